"""Unit testing one activity in-process: :class:`ActivityEnvironment`.

The environment runs the worker's own :class:`~swfbridge.worker.executor.ActivityExecutor`
(input decoding, typed conversion, heartbeats, cancellation, deadlines,
outcome mapping and the respond call) against an in-memory SWF that records
what it is sent. What a test reads is therefore what a worker would report,
by construction, without a broker, a worker or an SWF endpoint.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from swfbridge.activities.activity import Activity
from swfbridge.activities.options import ActivityOptions
from swfbridge.activities.registry import ActivityRegistry, default_registry
from swfbridge.aws.swf import SwfClient, SwfClientConfig, UnknownResource
from swfbridge.wire.job import ActivityJob
from swfbridge.wire.outcome import (
    Abandoned,
    Canceled,
    Completed,
    Failed,
    Outcome,
    SwfResponse,
    failure_cause,
)
from swfbridge.wire.serialization import WireFormat
from swfbridge.worker.executor import ActivityExecutor, WorkerConfig
from swfbridge.worker.heartbeat import HeartbeatConfig

DEFAULT_TOKEN = "swfbridge-test-token"

_FROM_REGISTRATION: Any = object()


@dataclass(frozen=True)
class ActivityReport:
    """How one run in an :class:`ActivityEnvironment` ended, and what SWF got.

    Attributes:
        outcome: The executor's outcome (``Completed``, ``Failed``,
            ``Canceled`` or ``Abandoned`` from :mod:`swfbridge.wire.outcome`).
        response: The respond call the worker made (``operation`` is the
            boto3 method, ``params`` its arguments, with SWF's limits
            applied), or None when it sent nothing (``abandoned``).
        heartbeats: The ``details`` of every ``heartbeat()`` call, in order,
            as the activity passed them.
        sent_heartbeats: The details (text) of the heartbeats that reached
            SWF, after coalescing: what SWF would show on a timeout.
    """

    outcome: Outcome
    response: SwfResponse | None
    heartbeats: tuple[Any, ...]
    sent_heartbeats: tuple[str | None, ...]

    @property
    def status(self) -> Literal["completed", "failed", "canceled", "abandoned"]:
        """``completed``, ``failed``, ``canceled`` or ``abandoned`` (nothing sent)."""
        if isinstance(self.outcome, Completed):
            return "completed"
        if isinstance(self.outcome, Failed):
            return "failed"
        if isinstance(self.outcome, Canceled):
            return "canceled"
        return "abandoned"

    def _param(self, name: str) -> str | None:
        if self.response is None:
            return None
        value = self.response.params.get(name)
        return value if isinstance(value, str) else None

    @property
    def result(self) -> str | None:
        """The result text SWF got (``completed`` only)."""
        return self._param("result") if self.status == "completed" else None

    @property
    def reason(self) -> str | None:
        """The failure reason SWF got (``failed`` only)."""
        return self._param("reason")

    @property
    def details(self) -> str | None:
        """The failure or cancellation details SWF got."""
        return None if self.status == "completed" else self._param("details")

    @property
    def cause(self) -> str | None:
        """The bridge cause of a ``swfbridge: ...`` failure (e.g. ``input_undecodable``)."""
        return failure_cause(self.outcome)

    def value(self) -> Any:
        """The result decoded from JSON (None when there is no result).

        Raises:
            AssertionError: The run did not complete (its status and reason say why).
        """
        if self.status != "completed":
            raise AssertionError(
                f"the activity did not complete: {self.status} "
                f"{self.reason or self.details or ''}".rstrip()
            )
        return None if self.result is None else json.loads(self.result)


class _RecordingSwf:
    """The boto3 side of an in-memory SWF: records calls, answers heartbeats."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cancel_requested = False
        self.closed = False
        self.sent_heartbeats: list[str | None] = []
        self.responses: list[SwfResponse] = []

    def record_activity_task_heartbeat(self, **params: Any) -> dict[str, Any]:
        with self.lock:
            if self.closed:
                raise UnknownResource(
                    "RecordActivityTaskHeartbeat",
                    "UnknownResourceFault",
                    "Unknown activity, taskToken = ...",
                )
            self.sent_heartbeats.append(params.get("details"))
            return {"cancelRequested": self.cancel_requested}

    def _respond(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.responses.append(SwfResponse(operation, dict(params)))
            if self.closed:
                raise UnknownResource(
                    operation, "UnknownResourceFault", "Unknown activity, taskToken = ..."
                )
        return {}

    def respond_activity_task_completed(self, **params: Any) -> dict[str, Any]:
        return self._respond("respond_activity_task_completed", params)

    def respond_activity_task_failed(self, **params: Any) -> dict[str, Any]:
        return self._respond("respond_activity_task_failed", params)

    def respond_activity_task_canceled(self, **params: Any) -> dict[str, Any]:
        return self._respond("respond_activity_task_canceled", params)


class ActivityEnvironment:
    """Runs an activity in the test's process, as a worker would, and reports what SWF got.

    Example::

        env = ActivityEnvironment()
        report = env.run(Add, "[[1, 2], {}]")
        assert report.status == "completed" and report.value() == 3

    Cancellation is SWF's: :meth:`request_cancel` makes the next heartbeat
    sent answer ``cancelRequested``, exactly as in a worker (so an activity
    that neither heartbeats nor has ``auto_heartbeat`` never learns of it).
    Call it from :attr:`on_heartbeat` to cancel at a chosen point, or from
    another thread. Heartbeats are sent every ``heartbeat_interval_s``.

    The environment cannot interrupt a synchronous ``run`` that ignores
    cancellation or its deadline (a worker's prefork pool can; the solo pool
    cannot either): such a ``run`` runs to its end. An ``async def run`` is
    cancelled like in a worker. Call :meth:`run` from a plain (not ``async``)
    test: it runs the coroutine on an event loop of its own.

    Args:
        token: The task token the activity sees (``self.token``).
        heartbeat_timeout_s: The task's heartbeat timeout (default: the
            activity's registration; None for none). With one, a heartbeat
            is sent as the run starts, as in a worker.
        start_to_close_s: The task's start-to-close timeout, which sets the
            worker's deadline (default: the registration's; None for none).
        wire_format: The worker's default wire format (None: the class's).
        heartbeat_interval_s: Seconds between two heartbeat sends.
        cancel_grace_s: The worker's cancellation grace period.
        deadline_margin_s: The worker's deadline margin (see
            :class:`~swfbridge.WorkerConfig`).
        registry: Where to look up the activity's registration (the default
            registry if None). Unregistered classes run with ``@activity``'s
            defaults.

    Attributes:
        on_heartbeat: Called with the details of every ``heartbeat()`` call,
            in the activity's thread, before the bridge handles it.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        heartbeat_timeout_s: float | None = _FROM_REGISTRATION,
        start_to_close_s: float | None = _FROM_REGISTRATION,
        wire_format: WireFormat | None = None,
        heartbeat_interval_s: float = 0.02,
        cancel_grace_s: float = 1.0,
        deadline_margin_s: float = 2.0,
        registry: ActivityRegistry | None = None,
    ) -> None:
        self.token = token
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.start_to_close_s = start_to_close_s
        self.wire_format = wire_format
        self.registry = registry if registry is not None else default_registry
        self.worker_config = WorkerConfig(
            heartbeat=HeartbeatConfig(
                max_interval_s=heartbeat_interval_s,
                min_interval_s=heartbeat_interval_s,
                cancel_grace_s=cancel_grace_s,
            ),
            min_time_left_s=0.0,
            deadline_margin_s=deadline_margin_s,
        )
        self.on_heartbeat: Callable[[Any], None] | None = None
        self._swf = _RecordingSwf()

    def request_cancel(self) -> None:
        """Ask to cancel the task: the next heartbeat sent answers ``cancelRequested``."""
        with self._swf.lock:
            self._swf.cancel_requested = True

    def close_task(self) -> None:
        """Make SWF forget the task (as on a timeout): heartbeats and responds then
        fail with ``UnknownResourceFault``, and ``heartbeat()`` returns False."""
        with self._swf.lock:
            self._swf.closed = True

    def options_for(self, activity: type[Activity]) -> ActivityOptions:
        """The activity's registered options, or ``@activity``'s defaults."""
        for entry in self.registry:
            if entry.cls is activity:
                return entry.options
        return ActivityOptions(name=activity.__name__, version="test")

    def run(self, activity: type[Activity], input: str | None = None) -> ActivityReport:
        """Run one attempt of ``activity`` with the task input ``input`` (SWF's text).

        Each call is a fresh task: cancellation requested or a task closed
        before is forgotten.

        Returns:
            What the attempt ended with and what the worker sent to SWF.
        """
        options = self.options_for(activity)
        registry = ActivityRegistry()
        registry.add(activity, options)
        heartbeats: list[Any] = []

        def observe(details: Any) -> None:
            heartbeats.append(details)
            if self.on_heartbeat is not None:
                self.on_heartbeat(details)

        swf = self._swf
        executor = ActivityExecutor(
            registry=registry,
            swf=SwfClient(config=SwfClientConfig(), client=swf),
            config=self.worker_config,
            wire_format=self.wire_format,
            heartbeat_observer=observe,
        )
        now = time.time()
        start_to_close = (
            options.start_to_close_s
            if self.start_to_close_s is _FROM_REGISTRATION
            else self.start_to_close_s
        )
        heartbeat_timeout = (
            options.heartbeat_s
            if self.heartbeat_timeout_s is _FROM_REGISTRATION
            else self.heartbeat_timeout_s
        )
        job = ActivityJob(
            task_token=self.token,
            domain="test",
            task_list=options.task_list or "test",
            activity_id="test-activity",
            activity_name=options.name,
            activity_version=options.version,
            workflow_id="test-workflow",
            run_id="test-run",
            started_event_id=1,
            input=input,
            polled_at=now,
            deadline=None if start_to_close is None else now + start_to_close,
            heartbeat_timeout_s=heartbeat_timeout,
        )
        try:
            outcome = executor.execute(job)
            executor.report(job, outcome)
        finally:
            executor.close()
        with swf.lock:
            response = swf.responses[-1] if swf.responses else None
            sent = tuple(swf.sent_heartbeats)
            swf.responses.clear()
            swf.sent_heartbeats.clear()
            swf.cancel_requested = swf.closed = False
        if isinstance(outcome, Abandoned):
            response = None
        return ActivityReport(
            outcome=outcome, response=response, heartbeats=tuple(heartbeats), sent_heartbeats=sent
        )
