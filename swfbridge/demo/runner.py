"""Runs the demo workflow on a local bridge and narrates it.

The caller (the ``swfbridge demo`` command) chooses the broker and passes the
environment the worker process starts from; this module reads no environment.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swfbridge.demo.activities import TASK_LIST
from swfbridge.demo.bridge import LocalBridgeConfig, local_bridge
from swfbridge.demo.broker import DemoBroker
from swfbridge.demo.workflow import CANCELED_ACTIVITY, Step, demo_steps

ACTIVITIES_MODULE = "swfbridge.demo.activities"
DOMAIN = "swfbridge-demo"
CANCEL_AFTER_RUNNING_S = 1.5

Emit = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    """How to run the demo.

    Args:
        broker: The Celery broker to use.
        work_dir: A private scratch directory (worker log, config module, messages).
        base_env: The environment the worker process starts from (AWS and
            Celery variables in it are replaced).
        concurrency: Worker pool processes (prefork).
        pollers: Poll threads.
        timeout_s: Deadline for the worker to be ready, and then for the
            whole workflow.
        python: Interpreter for the worker process.
    """

    broker: DemoBroker
    work_dir: Path
    base_env: Mapping[str, str] = field(default_factory=dict)
    concurrency: int = 4
    pollers: int = 2
    timeout_s: float = 60.0
    python: str = sys.executable


@dataclass(frozen=True)
class DemoResult:
    """How the demo went."""

    outcomes: dict[str, Any]
    unexpected: list[str]
    elapsed_s: float
    poller_counts: dict[str, int]
    worker_log: Path

    @property
    def ok(self) -> bool:
        return not self.unexpected


class _Clock:
    def __init__(self, emit: Emit) -> None:
        self._started = time.monotonic()
        self._emit = emit
        self._lock = threading.Lock()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def line(self, what: str, subject: str = "", detail: str = "") -> None:
        text = f"{self.elapsed_s:5.1f}s  {what:<16} {subject:<10} {detail}".rstrip()
        with self._lock:
            self._emit(text)


def run_demo(config: DemoConfig, emit: Emit = print) -> DemoResult:
    """Run the demo workflow end to end and return how it went.

    Raises:
        BridgeStartError: the Celery worker could not start.
    """
    import swfbridge.demo.activities  # noqa: F401  (the types to register; their timeouts)
    from swfbridge.testing import start_activities

    clock = _Clock(emit)
    steps = demo_steps()
    bridge_config = LocalBridgeConfig(
        broker=config.broker,
        work_dir=config.work_dir,
        activities=[ACTIVITIES_MODULE],
        task_lists=[TASK_LIST],
        domain=DOMAIN,
        base_env=config.base_env,
        concurrency=config.concurrency,
        pollers=config.pollers,
        python=config.python,
        ready_timeout_s=config.timeout_s,
    )
    clock.line("starting", "", "local SWF, Celery worker, poller")

    def on_heartbeat(activity_id: str, details: Any) -> None:
        clock.line("heartbeat", activity_id, _progress(details))

    with local_bridge(
        bridge_config,
        on_heartbeat=on_heartbeat,
        on_wait=lambda what: clock.line("waiting", "", what),
    ) as bridge:
        clock.line("started", "local SWF", bridge.swf.endpoint_url)
        clock.line(
            "started", "worker", f"celery prefork x{config.concurrency}, queue {bridge.queue}"
        )
        clock.line("started", "poller", f"{config.pollers} long-poll threads")
        run = start_activities(
            bridge.client(),
            domain=DOMAIN,
            task_list=TASK_LIST,
            activities=[s.activity for s in steps],
            timeout_s=config.timeout_s,
            workflow_id=f"swfbridge-demo-{uuid.uuid4().hex[:8]}",
        )
        run_id = run.wait_started()
        clock.line("workflow", run.workflow_id, f"started: {len(steps)} activities")
        _watch(bridge.client(), run, run_id, clock)
        outcomes = run.wait()
        elapsed_s = clock.elapsed_s
        counts = bridge.poller_counts
        clock.line("stopping", "", "poller, worker, local SWF")
    clock.line("stopped")
    return DemoResult(
        outcomes=outcomes,
        unexpected=_unexpected(steps, outcomes),
        elapsed_s=elapsed_s,
        poller_counts=counts,
        worker_log=config.work_dir / "worker.log",
    )


def _watch(client: Any, run: Any, run_id: str, clock: _Clock) -> None:
    """Print the workflow's history as it grows, and cancel the long backup once it runs."""
    seen = 0
    activity_ids: dict[int, str] = {}
    running_since: dict[str, float] = {}
    cancel_sent = False
    while True:
        finished = run.done()
        events = _history(client, run.workflow_id, run_id)
        for event in events[seen:]:
            _print_event(event, activity_ids, running_since, clock)
        seen = len(events)
        started = running_since.get(CANCELED_ACTIVITY)
        if (
            not cancel_sent
            and started is not None
            and (clock.elapsed_s - started >= CANCEL_AFTER_RUNNING_S)
        ):
            clock.line("decider", CANCELED_ACTIVITY, "asks SWF to cancel it")
            run.request_cancel(CANCELED_ACTIVITY)
            cancel_sent = True
        if finished:
            return
        time.sleep(0.25)


def _history(client: Any, workflow_id: str, run_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "domain": DOMAIN,
        "execution": {"workflowId": workflow_id, "runId": run_id},
    }
    while True:
        page = client.get_workflow_execution_history(**params)
        events += page.get("events", [])
        if not page.get("nextPageToken"):
            return sorted(events, key=lambda e: int(e["eventId"]))
        params["nextPageToken"] = page["nextPageToken"]


def _print_event(
    event: dict[str, Any],
    activity_ids: dict[int, str],
    running_since: dict[str, float],
    clock: _Clock,
) -> None:
    kind = str(event["eventType"])
    attrs: dict[str, Any] = event.get(kind[0].lower() + kind[1:] + "EventAttributes", {})
    aid = activity_ids.get(int(attrs.get("scheduledEventId", 0) or 0), "?")
    if kind == "ActivityTaskScheduled":
        activity_ids[int(event["eventId"])] = attrs["activityId"]
        clock.line("scheduled", attrs["activityId"], attrs["activityType"]["name"])
    elif kind == "ActivityTaskStarted":
        running_since[aid] = clock.elapsed_s
        clock.line("running", aid, f"polled by {attrs.get('identity', '?')}")
    elif kind == "ActivityTaskCompleted":
        clock.line("done", aid, f"completed: {_short(attrs.get('result'))}")
    elif kind == "ActivityTaskFailed":
        clock.line("done", aid, f"failed: {attrs.get('reason')!r} {_short(attrs.get('details'))}")
    elif kind == "ActivityTaskCancelRequested":
        clock.line("cancel requested", attrs.get("activityId", "?"))
    elif kind == "ActivityTaskCanceled":
        clock.line("done", aid, f"canceled: {_short(attrs.get('details'))}")
    elif kind == "ActivityTaskTimedOut":
        clock.line("done", aid, f"timed out ({attrs.get('timeoutType')})")
    elif (
        kind.startswith("WorkflowExecution")
        and kind != "WorkflowExecutionStarted"
        and (kind != "WorkflowExecutionSignaled")
    ):
        clock.line("workflow", "", kind.removeprefix("WorkflowExecution").lower())


def _progress(details: Any) -> str:
    if details is None:
        return "alive (no details)"
    if isinstance(details, dict) and "percent" in details:
        return f"progress {details['percent']}%"
    return f"progress {_short(json.dumps(details))}"


def _short(text: str | None, limit: int = 70) -> str:
    if text is None:
        return "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unexpected(steps: list[Step], outcomes: Mapping[str, Any]) -> list[str]:
    wrong = []
    for step in steps:
        aid = step.activity.activity_id
        outcome = outcomes.get(aid)
        status = outcome.status if outcome is not None else "missing"
        if status != step.expected:
            wrong.append(f"{aid}: expected {step.expected}, got {status}")
    return wrong


def summarize(result: DemoResult) -> list[str]:
    """The closing lines: one per activity, then the totals."""
    statuses = Counter(o.status for o in result.outcomes.values())
    totals = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    verdict = "all as expected" if result.ok else "NOT as expected: " + "; ".join(result.unexpected)
    lines = [
        f"summary: {len(result.outcomes)} activities in {result.elapsed_s:.1f}s: "
        f"{totals} ({verdict})"
    ]
    for aid, outcome in result.outcomes.items():
        what = (
            outcome.result
            if outcome.status == "completed"
            else (outcome.reason or outcome.details or "")
        )
        lines.append(f"  {aid:<10} {outcome.status:<10} {_short(what)}")
    counts = result.poller_counts
    lines.append(
        f"poller: {counts.get('polls', 0)} polls ({counts.get('empty_polls', 0)} empty), "
        f"{counts.get('dispatched', 0)} dispatched to Celery, "
        f"{counts.get('failed_by_bridge', 0)} failed by the bridge"
    )
    return lines
