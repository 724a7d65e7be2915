"""Small helpers shared by the swfbridge.testing tests (raw SWF calls via boto3)."""

from __future__ import annotations

import time
import uuid
from typing import Any

DOMAIN = "test-domain"
TASK_LIST = "activities"
ACTIVITY = {"name": "work", "version": "1"}


def error_code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def http_status(exc: BaseException) -> int:
    return int(getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def setup_domain(client: Any, **activity_defaults: str) -> None:
    client.register_domain(name=DOMAIN, workflowExecutionRetentionPeriodInDays="1")
    client.register_workflow_type(
        domain=DOMAIN,
        name="wf",
        version="1",
        defaultTaskStartToCloseTimeout="30",
        defaultExecutionStartToCloseTimeout="600",
        defaultChildPolicy="TERMINATE",
    )
    defaults = {
        "defaultTaskHeartbeatTimeout": "NONE",
        "defaultTaskScheduleToStartTimeout": "NONE",
        "defaultTaskScheduleToCloseTimeout": "NONE",
        "defaultTaskStartToCloseTimeout": "NONE",
        "defaultTaskList": {"name": TASK_LIST},
    }
    defaults.update(activity_defaults)
    client.register_activity_type(domain=DOMAIN, **ACTIVITY, **defaults)


class Workflow:
    """One execution whose decisions the test makes by hand."""

    def __init__(self, client: Any, *, task_start_to_close: str = "30") -> None:
        self.client = client
        self.workflow_id = f"wf-{uuid.uuid4().hex[:8]}"
        self.decision_list = f"decisions-{self.workflow_id}"
        self.run_id = client.start_workflow_execution(
            domain=DOMAIN,
            workflowId=self.workflow_id,
            workflowType={"name": "wf", "version": "1"},
            taskList={"name": self.decision_list},
            taskStartToCloseTimeout=task_start_to_close,
        )["runId"]

    def poll_decision(self) -> dict[str, Any]:
        task: dict[str, Any] = self.client.poll_for_decision_task(
            domain=DOMAIN, taskList={"name": self.decision_list}
        )
        assert task["taskToken"], "expected a decision task"
        return task

    def decide(self, decisions: list[dict[str, Any]]) -> None:
        token = self.poll_decision()["taskToken"]
        self.client.respond_decision_task_completed(taskToken=token, decisions=decisions)

    def schedule(self, *activity_ids: str, **attributes: Any) -> None:
        self.decide([schedule_decision(aid, **attributes) for aid in activity_ids])

    def signal(self) -> None:
        self.client.signal_workflow_execution(
            domain=DOMAIN, workflowId=self.workflow_id, runId=self.run_id, signalName="wake"
        )

    def request_cancel(self, activity_id: str) -> None:
        self.signal()  # a decider only gets a decision task when something happens
        self.decide(
            [
                {
                    "decisionType": "RequestCancelActivityTask",
                    "requestCancelActivityTaskDecisionAttributes": {"activityId": activity_id},
                }
            ]
        )

    def history(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.client.get_workflow_execution_history(
            domain=DOMAIN, execution={"workflowId": self.workflow_id, "runId": self.run_id}
        )["events"]
        return events

    def events_of(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.history() if e["eventType"] == event_type]

    def wait_for(self, event_type: str, *, timeout_s: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.events_of(event_type)
            if found:
                return found[-1]
            time.sleep(0.02)
        raise AssertionError(f"no {event_type} within {timeout_s} s")

    def terminate(self) -> None:
        self.client.terminate_workflow_execution(
            domain=DOMAIN, workflowId=self.workflow_id, runId=self.run_id
        )


def schedule_decision(activity_id: str, **attributes: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {"activityType": ACTIVITY, "activityId": activity_id}
    attrs.update(attributes)
    return {"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": attrs}


def poll_activity(client: Any, task_list: str = TASK_LIST, **kwargs: Any) -> dict[str, Any]:
    task: dict[str, Any] = client.poll_for_activity_task(
        domain=DOMAIN, taskList={"name": task_list}, **kwargs
    )
    return task


def attributes(event: dict[str, Any]) -> dict[str, Any]:
    kind = str(event["eventType"])
    attrs: dict[str, Any] = event[kind[0].lower() + kind[1:] + "EventAttributes"]
    return attrs
