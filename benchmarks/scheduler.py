"""A lean decider for benchmarks, and the timings read back from history.

``swfbridge.testing.run_activities`` re-reads the whole history at every
decision task, which costs O(n²) for a 1,000-task batch on the endpoint the
workers share. The batch mode here decides once (every activity scheduled in
one ``RespondDecisionTaskCompleted``) and then only watches the execution's
open activity count (``DescribeWorkflowExecution``, cheap); the history is
read once, at the end, for the timestamps.
The sequential mode schedules one activity per decision, to measure latency
without queueing.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from benchmarks.workloads import (
    ASYNC_NOOP,
    BEAT,
    HEARTBEAT_TIMEOUT_S,
    NOOP,
    SCHEDULE_TO_START_S,
    SLEEP,
    START_TO_CLOSE_S,
    TASK_LIST,
    VERSION,
    Workload,
)
from swfbridge.testing import register_activity_type, register_domain

WORKFLOW_NAME = "swfbridge-bench"
WORKFLOW_VERSION = "1"
CLOSE_EVENTS = (
    "ActivityTaskCompleted",
    "ActivityTaskFailed",
    "ActivityTaskTimedOut",
    "ActivityTaskCanceled",
)
RESPOND_OPS = (
    "RespondActivityTaskCompleted",
    "RespondActivityTaskFailed",
    "RespondActivityTaskCanceled",
)


def prepare_domain(client: Any, domain: str) -> None:
    """Register the domain, the workflow type and the benchmark activity types."""
    register_domain(client, domain)
    try:
        client.register_workflow_type(
            domain=domain,
            name=WORKFLOW_NAME,
            version=WORKFLOW_VERSION,
            defaultTaskStartToCloseTimeout="600",
            defaultExecutionStartToCloseTimeout="3600",
            defaultChildPolicy="TERMINATE",
        )
    except Exception as exc:
        if "TypeAlreadyExists" not in str(exc):
            raise
    for name in (NOOP, ASYNC_NOOP, SLEEP, BEAT):
        register_activity_type(
            client,
            domain=domain,
            name=name,
            version=VERSION,
            task_list=TASK_LIST,
            heartbeat_timeout=str(HEARTBEAT_TIMEOUT_S) if name == BEAT else "NONE",
            schedule_to_start=str(SCHEDULE_TO_START_S),
            schedule_to_close="NONE",
            start_to_close=str(START_TO_CLOSE_S),
        )


def _schedule(workload: Workload, index: int) -> dict[str, Any]:
    return {
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": {
            "activityType": {"name": workload.activity, "version": VERSION},
            "activityId": f"a{index}",
            "taskList": {"name": TASK_LIST},
            "input": workload.input,
        },
    }


@dataclass
class ActivityTiming:
    """Server timestamps of one activity (epoch seconds)."""

    scheduled: float
    started: float | None = None
    closed: float | None = None
    status: str | None = None


@dataclass
class RunResult:
    """What one workload run produced."""

    timings: dict[str, ActivityTiming]
    decider_s: float
    wall_s: float
    workflow_id: str
    extra: dict[str, Any] = field(default_factory=dict)


class Scheduler:
    """Runs workloads as workflow executions on one domain.

    Args:
        client: boto3 SWF client (of the benchmark process).
        domain: The prepared domain.
    """

    def __init__(self, client: Any, domain: str) -> None:
        self.client = client
        self.domain = domain
        #: GetWorkflowExecutionHistory calls this decider made (to tell them
        #: from the bridge's at the endpoint).
        self.history_calls = 0

    def _start(self) -> tuple[str, str, str]:
        workflow_id = f"bench-{uuid.uuid4().hex[:12]}"
        decisions = f"decisions-{uuid.uuid4().hex[:12]}"
        run_id = self.client.start_workflow_execution(
            domain=self.domain,
            workflowId=workflow_id,
            workflowType={"name": WORKFLOW_NAME, "version": WORKFLOW_VERSION},
            taskList={"name": decisions},
        )["runId"]
        return workflow_id, run_id, decisions

    def _decision_task(self, decisions: str, deadline: float) -> dict[str, Any]:
        while time.monotonic() < deadline:
            task: dict[str, Any] = self.client.poll_for_decision_task(
                domain=self.domain, taskList={"name": decisions}, identity="bench-decider"
            )
            if task.get("taskToken"):
                return task
        raise TimeoutError("no decision task before the deadline")

    def run(self, workload: Workload, timeout_s: float) -> RunResult:
        """Run ``workload`` to the end (or raise TimeoutError)."""
        if workload.mode == "sequential":
            return self._run_sequential(workload, timeout_s)
        return self._run_batch(workload, timeout_s)

    def _run_batch(self, workload: Workload, timeout_s: float) -> RunResult:
        began = time.monotonic()
        deadline = began + timeout_s
        workflow_id, run_id, decisions = self._start()
        task = self._decision_task(decisions, deadline)
        self.client.respond_decision_task_completed(
            taskToken=task["taskToken"],
            decisions=[_schedule(workload, i) for i in range(workload.count)],
        )
        decider_s = time.monotonic() - began
        # Open counts, not responds: a task that times out is closed by SWF itself.
        while self._open_activities(workflow_id, run_id) > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{workload.key}: not all activities closed in {timeout_s}s")
            time.sleep(0.05)
        wall_s = time.monotonic() - began
        timings = self.timings(workflow_id, run_id)
        self._finish(workflow_id)
        return RunResult(timings, decider_s, wall_s, workflow_id)

    def _run_sequential(self, workload: Workload, timeout_s: float) -> RunResult:
        began = time.monotonic()
        deadline = began + timeout_s
        workflow_id, run_id, decisions = self._start()
        scheduled = 0
        decider_s = 0.0
        while True:
            task = self._decision_task(decisions, deadline)
            decided = time.monotonic()
            closed = sum(1 for e in task.get("events", []) if e["eventType"] in CLOSE_EVENTS)
            if closed >= workload.count:
                self.client.respond_decision_task_completed(
                    taskToken=task["taskToken"],
                    decisions=[{"decisionType": "CompleteWorkflowExecution"}],
                )
                break
            batch = [_schedule(workload, scheduled)] if closed == scheduled else []
            scheduled += len(batch)
            self.client.respond_decision_task_completed(
                taskToken=task["taskToken"], decisions=batch
            )
            decider_s += time.monotonic() - decided
        wall_s = time.monotonic() - began
        return RunResult(self.timings(workflow_id, run_id), decider_s, wall_s, workflow_id)

    def _open_activities(self, workflow_id: str, run_id: str) -> int:
        answer = self.client.describe_workflow_execution(
            domain=self.domain, execution={"workflowId": workflow_id, "runId": run_id}
        )
        return int(answer["openCounts"]["openActivityTasks"])

    def _finish(self, workflow_id: str) -> None:
        try:
            self.client.terminate_workflow_execution(
                domain=self.domain, workflowId=workflow_id, reason="benchmark done"
            )
        except Exception:  # already closed
            return

    def timings(self, workflow_id: str, run_id: str) -> dict[str, ActivityTiming]:
        """Scheduled, started and closed times of every activity, from the history."""
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "domain": self.domain,
            "execution": {"workflowId": workflow_id, "runId": run_id},
        }
        while True:
            page = self.client.get_workflow_execution_history(**params)
            self.history_calls += 1
            events += page.get("events", [])
            if not page.get("nextPageToken"):
                break
            params["nextPageToken"] = page["nextPageToken"]
        by_event: dict[int, ActivityTiming] = {}
        timings: dict[str, ActivityTiming] = {}
        for event in events:
            kind = event["eventType"]
            stamp = event["eventTimestamp"].timestamp()
            attrs = event.get(kind[0].lower() + kind[1:] + "EventAttributes", {})
            if kind == "ActivityTaskScheduled":
                timing = ActivityTiming(scheduled=stamp)
                by_event[int(event["eventId"])] = timing
                timings[attrs["activityId"]] = timing
            elif kind == "ActivityTaskStarted":
                by_event[int(attrs["scheduledEventId"])].started = stamp
            elif kind in CLOSE_EVENTS:
                closing = by_event[int(attrs["scheduledEventId"])]
                closing.closed, closing.status = stamp, kind
        return timings
