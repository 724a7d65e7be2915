"""Per-attempt heartbeating: coalesced progress, cancellation, lost tasks.

An activity may call ``heartbeat(details)`` as often as it likes; a
:class:`Heartbeater` thread sends only the latest details, at most once per
interval (0.8 × the task's heartbeat timeout, capped). What SWF answers is
kept as state the activity reads without waiting on the network:

* ``cancelRequested: true`` → :attr:`cancel_requested`;
* ``UnknownResourceFault`` → :attr:`task_closed` (timed out or closed elsewhere).

Failed or throttled heartbeat calls are logged and retried on the next beat.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from swfbridge.limits import MAX_HEARTBEAT_DETAILS, truncate
from swfbridge.outcome import encode_details
from swfbridge.swf import SwfClient, SwfError, UnknownResource

log = logging.getLogger(__name__)

HEARTBEAT_FRACTION = 0.8


@dataclass(frozen=True)
class HeartbeatConfig:
    """Heartbeat pacing for the worker.

    Args:
        max_interval_s: Longest gap between two heartbeats sent while there is
            news (and between liveness beats), whatever the timeout.
        min_interval_s: Shortest gap, so a tiny heartbeat timeout cannot flood SWF.
        cancel_grace_s: How long an activity has to stop by itself after
            cancellation (or loss of its task) before it is interrupted.
    """

    max_interval_s: float = 30.0
    min_interval_s: float = 0.2
    cancel_grace_s: float = 5.0

    def interval_for(self, heartbeat_timeout_s: float | None) -> float:
        """Seconds between sends for a task with this heartbeat timeout."""
        if heartbeat_timeout_s is None:
            return self.max_interval_s
        return max(self.min_interval_s,
                   min(self.max_interval_s, HEARTBEAT_FRACTION * heartbeat_timeout_s))


class Heartbeater:
    """Sends one attempt's heartbeats from a background thread.

    Args:
        swf: The SWF client.
        task_token: The attempt's token.
        interval_s: Minimum time between two sends.
        liveness: Also send beats without news (automatic liveness heartbeats).
        on_stop_requested: Called once, from the heartbeat thread, when SWF
            asks to cancel or no longer knows the task.
        log_context: Ids to put on log lines.
        fit_details: Makes details fit SWF's 2,048 characters, called in the
            heartbeat thread just before a send (S3 offload hooks in here);
            truncation if None.
    """

    def __init__(
        self,
        *,
        swf: SwfClient,
        task_token: str,
        interval_s: float,
        liveness: bool = False,
        on_stop_requested: Callable[[], None] | None = None,
        log_context: str = "",
        fit_details: Callable[[str], str] | None = None,
    ) -> None:
        self._swf = swf
        self._token = task_token
        self._interval_s = interval_s
        self._liveness = liveness
        self._on_stop_requested = on_stop_requested
        self._log_context = log_context
        self._fit_details = fit_details or (lambda t: truncate(t, MAX_HEARTBEAT_DETAILS))
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._has_pending = False
        self._last_sent = -float("inf")
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.cancel_requested = False
        self.task_closed = False
        self.calls = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="swfbridge-heartbeat",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def record(self, details: Any = None) -> None:
        """Remember ``details`` as the latest progress; sent at the next beat."""
        text = encode_details(details)
        with self._cond:
            self._pending = text
            self._has_pending = True
            self._cond.notify_all()

    def _due(self) -> float | None:
        """Seconds until the next send, or None if nothing is to be sent."""
        if not (self._has_pending or self._liveness):
            return None
        return self._last_sent + self._interval_s - time.monotonic()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    due = self._due()
                    if due is not None and due <= 0:
                        break
                    self._cond.wait(timeout=due if due is not None else None)
                if self._stopped:
                    return
                details = self._pending
                self._has_pending = False
                self._last_sent = time.monotonic()
            if not self._send(details):
                return

    def _send(self, details: str | None) -> bool:
        """One heartbeat call. Returns False when beating should end."""
        params: dict[str, Any] = {"taskToken": self._token}
        if details is not None:
            params["details"] = self._fit_details(details)
        self.calls += 1
        try:
            answer = self._swf.call("record_activity_task_heartbeat", retry=False, **params)
        except UnknownResource:
            log.warning("heartbeat: SWF no longer knows the task (timed out or closed): %s",
                        self._log_context)
            self.task_closed = True
            self._notify_stop_requested()
            return False
        except SwfError as exc:
            log.warning("heartbeat failed, retrying at the next beat: %s: %s",
                        exc.code, self._log_context)
            with self._cond:
                # Resend what was pending (newer details win if recorded meanwhile).
                if not self._has_pending:
                    self._pending, self._has_pending = details, True
            return True
        except Exception:  # never let a heartbeat crash the worker
            log.exception("heartbeat failed unexpectedly: %s", self._log_context)
            return True
        if answer.get("cancelRequested"):
            if not self.cancel_requested:
                log.info("cancellation requested by SWF: %s", self._log_context)
                self.cancel_requested = True
                self._notify_stop_requested()
            return False
        return True

    def _notify_stop_requested(self) -> None:
        if self._on_stop_requested is not None:
            try:
                self._on_stop_requested()
            except Exception:
                log.exception("stop-request callback failed: %s", self._log_context)
