"""Counting SWF calls AT THE LOCAL ENDPOINT, by activity id.

The test process hosts the local SWF (``local_swf_server``), so wrapping its
moto backend methods sees every call from every process (workers, pollers).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

RESPONDS = (
    "respond_activity_task_completed",
    "respond_activity_task_failed",
    "respond_activity_task_canceled",
)


@dataclass
class EndpointCalls:
    """Heartbeat and respond calls the local SWF received, by activity id."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    activity_of_token: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)  # (op, activity id, details)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.swf.models import SWFBackend

        original_poll = SWFBackend.poll_for_activity_task

        def poll(backend: Any, *args: Any, **kwargs: Any) -> Any:
            task = original_poll(backend, *args, **kwargs)
            if task is not None:
                with self.lock:
                    self.activity_of_token[task.task_token] = task.activity_id
            return task

        monkeypatch.setattr(SWFBackend, "poll_for_activity_task", poll)
        for operation in ("record_activity_task_heartbeat", *RESPONDS):
            monkeypatch.setattr(
                SWFBackend, operation, self._counting(operation, getattr(SWFBackend, operation))
            )

    def _counting(self, operation: str, original: Any) -> Any:
        def counted(backend: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
            with self.lock:
                activity_id = self.activity_of_token.get(task_token)
            if activity_id is None:
                # A poll already waiting when the patch went in was not seen: ask the
                # backend which task the token belongs to.
                try:
                    activity_id = backend._find_activity_task_from_token(task_token).activity_id
                except Exception:
                    activity_id = "?"
            with self.lock:
                self.calls.append((operation, activity_id, kwargs.get("details")))
            return original(backend, task_token, *args, **kwargs)

        return counted

    def of(self, activity_id: str, *operations: str) -> list[tuple[str, str, Any]]:
        with self.lock:
            return [c for c in self.calls if c[1] == activity_id and c[0] in operations]
