"""A workflow run's history, paged the way GetWorkflowExecutionHistory pages it (unit tests)."""

from __future__ import annotations

from typing import Any

from swfbridge.aws.swf import SwfClient


class FakeHistory:
    """One run's events, grown by the test like a decider and SWF would grow them.

    ``client`` answers ``get_workflow_execution_history`` (reverseOrder,
    maximumPageSize, nextPageToken) and ``describe_activity_type``; ``pages``
    counts the history calls it answered.
    """

    def __init__(self, *, workflow_id: str = "wf", run_id: str = "run") -> None:
        self.execution = {"workflowId": workflow_id, "runId": run_id}
        self.events: list[dict[str, Any]] = []
        self.pages = 0
        self.failures: list[Exception] = []
        self.described: dict[str, Any] = {
            "configuration": {
                "defaultTaskStartToCloseTimeout": "300",
                "defaultTaskHeartbeatTimeout": "NONE",
            }
        }
        for kind in (
            "WorkflowExecutionStarted",
            "DecisionTaskScheduled",
            "DecisionTaskStarted",
            "DecisionTaskCompleted",
        ):
            self.add(kind)

    def add(self, kind: str, **attributes: Any) -> int:
        event_id = len(self.events) + 1
        event: dict[str, Any] = {"eventId": event_id, "eventType": kind}
        if attributes:
            event[kind[0].lower() + kind[1:] + "EventAttributes"] = attributes
        self.events.append(event)
        return event_id

    def schedule(
        self,
        activity_id: str,
        *,
        start_to_close: str | None = "30",
        heartbeat: str | None = "NONE",
        name: str = "Thing",
        version: str = "1",
        input: str | None = "[[], {}]",
    ) -> int:
        attributes: dict[str, Any] = {
            "activityId": activity_id,
            "activityType": {"name": name, "version": version},
        }
        if start_to_close is not None:
            attributes["startToCloseTimeout"] = start_to_close
        if heartbeat is not None:
            attributes["heartbeatTimeout"] = heartbeat
        if input is not None:
            attributes["input"] = input
        return self.add("ActivityTaskScheduled", **attributes)

    def start(self, scheduled_id: int) -> dict[str, Any]:
        """Start a scheduled task; returns the poll response SWF would give."""
        started_id = self.add("ActivityTaskStarted", scheduledEventId=scheduled_id)
        attrs = self.events[scheduled_id - 1]["activityTaskScheduledEventAttributes"]
        response: dict[str, Any] = {
            "taskToken": f"token-{started_id}",
            "activityId": attrs["activityId"],
            "startedEventId": started_id,
            "workflowExecution": dict(self.execution),
            "activityType": dict(attrs["activityType"]),
        }
        if "input" in attrs:
            response["input"] = attrs["input"]
        return response

    def close(self, scheduled_id: int, kind: str = "ActivityTaskTimedOut") -> None:
        self.add(kind, scheduledEventId=scheduled_id)

    def get_workflow_execution_history(self, **params: Any) -> dict[str, Any]:
        self.pages += 1
        if self.failures:
            raise self.failures.pop(0)
        assert params["execution"] == self.execution
        ordered = list(reversed(self.events)) if params.get("reverseOrder") else self.events
        start = int(params.get("nextPageToken") or 0)
        size = int(params.get("maximumPageSize") or 1000)
        answer: dict[str, Any] = {"events": ordered[start : start + size]}
        if start + size < len(ordered):
            answer["nextPageToken"] = str(start + size)
        return answer

    def describe_activity_type(self, **params: Any) -> dict[str, Any]:
        return self.described

    def client(self, *, attempts: int = 3) -> SwfClient:
        from tests.support.fakes import fake_swf

        return fake_swf(self, attempts=attempts)  # type: ignore[arg-type]
