"""Failure handling and retry in the decider.

SWF does not retry activities: the decider does. This example's decider is a
plain boto3 loop (what flowy, simpleflow and the AWS Flow frameworks do for
you). It reads each failure's reason and JSON details and decides:

* the activity's own transient error (``error_type`` ends with
  ``TemporaryError``): schedule it again, up to ``MAX_ATTEMPTS``;
* a failure of the bridge (reason ``"swfbridge: ..."``) whose ``cause`` says
  retrying can help (``enqueue_failed``, ``worker_lost``, ...): the same;
* anything else (bad input, a bug): fail the workflow with that reason.

Run it: ``python -m examples.retry_in_decider`` (from the repository root).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

from swfbridge import FLOWY, Activity, activity

TASK_LIST = "examples-retry"
DECISION_TASK_LIST = "examples-retry-decisions"
MAX_ATTEMPTS = 5
RETRYABLE_BRIDGE_CAUSES = {"enqueue_failed", "worker_lost", "poller_shutdown", "deadline_passed"}


class TemporaryError(Exception):
    """The warehouse is busy: trying again later may work."""


@activity("1.0", task_list=TASK_LIST, start_to_close=60)
class ReserveStock(Activity):
    def run(self, sku: str, attempt: int) -> dict[str, Any]:
        # A stand-in for a flaky dependency: busy for the first two attempts.
        if attempt < 3:
            raise TemporaryError(f"warehouse busy (attempt {attempt})")
        return {"sku": sku, "reserved": True, "attempt": attempt}


def should_retry(reason: str, details: str | None) -> bool:
    """Whether a failed attempt is worth another one."""
    try:
        info = json.loads(details or "{}")
    except ValueError:
        return False
    if not isinstance(info, dict):
        return False
    if reason.startswith("swfbridge: "):
        return info.get("cause") in RETRYABLE_BRIDGE_CAUSES
    return str(info.get("error_type", "")).endswith("TemporaryError")


def _schedule(attempt: int, sku: str) -> dict[str, Any]:
    return {
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": {
            "activityType": {"name": "ReserveStock", "version": "1.0"},
            "activityId": f"reserve-{attempt}",
            "taskList": {"name": TASK_LIST},
            "input": FLOWY.encode_input([sku, attempt], {}),
        },
    }


_CLOSED = ("ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut")


def decide_once(events: list[dict[str, Any]], sku: str) -> tuple[list[dict[str, Any]], bool]:
    """The decisions for a history, and whether they close the workflow."""
    attempts = sum(1 for e in events if e["eventType"] == "ActivityTaskScheduled")
    closed = [e for e in events if e["eventType"] in _CLOSED]
    if attempts == 0:
        return [_schedule(1, sku)], False
    if len(closed) < attempts:
        return [], False  # the latest attempt is still running
    last = closed[-1]
    if last["eventType"] == "ActivityTaskCompleted":
        result = last["activityTaskCompletedEventAttributes"].get("result")
        return [
            {
                "decisionType": "CompleteWorkflowExecution",
                "completeWorkflowExecutionDecisionAttributes": {"result": result},
            }
        ], True
    if last["eventType"] == "ActivityTaskTimedOut":
        # Its clocks ran out (a lost worker, a long queue): another attempt may do better.
        reason, retry = "ReserveStock timed out", True
    else:
        attrs = last["activityTaskFailedEventAttributes"]
        reason = attrs.get("reason", "")
        retry = should_retry(reason, attrs.get("details"))
    if retry and attempts < MAX_ATTEMPTS:
        return [_schedule(attempts + 1, sku)], False
    return [
        {
            "decisionType": "FailWorkflowExecution",
            "failWorkflowExecutionDecisionAttributes": {"reason": reason[:256]},
        }
    ], True


def decide(client: Any, domain: str, sku: str = "sku-42") -> dict[str, Any]:
    """Run one workflow to its end; return how it closed and after how many attempts."""
    from swfbridge.testing.decider import register_domain

    register_domain(client, domain)
    with contextlib.suppress(client.exceptions.TypeAlreadyExistsFault):
        client.register_workflow_type(
            domain=domain,
            name="ReserveWithRetry",
            version="1.0",
            defaultTaskStartToCloseTimeout="30",
            defaultExecutionStartToCloseTimeout="600",
            defaultChildPolicy="TERMINATE",
            defaultTaskList={"name": DECISION_TASK_LIST},
        )
    workflow_id = f"reserve-{uuid.uuid4().hex[:8]}"
    client.start_workflow_execution(
        domain=domain,
        workflowId=workflow_id,
        workflowType={"name": "ReserveWithRetry", "version": "1.0"},
    )
    while True:
        task = client.poll_for_decision_task(domain=domain, taskList={"name": DECISION_TASK_LIST})
        if not task.get("taskToken"):
            continue
        events = task["events"]  # one page is enough for this small workflow
        decisions, closed = decide_once(events, sku)
        client.respond_decision_task_completed(taskToken=task["taskToken"], decisions=decisions)
        if closed:
            attempts = sum(1 for e in events if e["eventType"] == "ActivityTaskScheduled")
            reasons = [
                e["activityTaskFailedEventAttributes"]["reason"]
                for e in events
                if e["eventType"] == "ActivityTaskFailed"
            ]
            return {
                "closed": decisions[0]["decisionType"],
                "attempts": attempts,
                "failures": reasons,
            }


if __name__ == "__main__":
    from examples._local import run_example

    print(
        "result:", run_example(decide, module="examples.retry_in_decider", task_lists=[TASK_LIST])
    )
