"""Reading a task's timeouts from its ActivityTaskScheduled event (opt-in)."""

from __future__ import annotations

from typing import Any

from swfbridge.activities.registry import ActivityRegistry
from swfbridge.aws.swf import SwfClient, UnknownResource
from swfbridge.poller.timeouts import TaskTimeouts, TimeoutResolver

POLL = {
    "taskToken": "t", "startedEventId": 7, "activityId": "a",
    "activityType": {"name": "Thing", "version": "1"},
    "workflowExecution": {"workflowId": "w", "runId": "r"},
}
DESCRIBED = {"configuration": {"defaultTaskStartToCloseTimeout": "60",
                               "defaultTaskHeartbeatTimeout": "NONE"}}


class FakeSwf:
    def __init__(self, pages: list[dict[str, Any]] | Exception) -> None:
        self.pages = pages
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        self.calls.append((operation, params))
        if operation == "describe_activity_type":
            return DESCRIBED
        if isinstance(self.pages, Exception):
            raise self.pages
        index = int(params.get("nextPageToken", 0))
        return self.pages[index]


def _resolver(swf: FakeSwf, *, from_history: bool) -> TimeoutResolver:
    client: SwfClient = swf  # type: ignore[assignment]
    return TimeoutResolver(registry=ActivityRegistry(), swf=client, domain="d",
                           from_history=from_history)


STARTED = {"eventId": 7, "eventType": "ActivityTaskStarted",
           "activityTaskStartedEventAttributes": {"scheduledEventId": 5}}
SCHEDULED = {"eventId": 5, "eventType": "ActivityTaskScheduled",
             "activityTaskScheduledEventAttributes": {"startToCloseTimeout": "3",
                                                      "heartbeatTimeout": "2"}}


def test_the_scheduled_events_timeouts_win_when_reading_history_across_pages() -> None:
    pages = [{"events": [{"eventId": 8, "eventType": "X"}, STARTED], "nextPageToken": "1"},
             {"events": [{"eventId": 6, "eventType": "Y"}, SCHEDULED]}]
    swf = FakeSwf(pages)
    assert _resolver(swf, from_history=True).for_task(POLL) == TaskTimeouts(3.0, 2.0)
    assert all(params["reverseOrder"] for _, params in swf.calls)


def test_without_the_opt_in_the_types_defaults_are_used_and_history_is_not_read() -> None:
    swf = FakeSwf([{"events": [STARTED, SCHEDULED]}])
    assert _resolver(swf, from_history=False).for_task(POLL) == TaskTimeouts(60.0, None)
    assert [op for op, _ in swf.calls] == ["describe_activity_type"]


def test_an_unreadable_history_falls_back_to_the_types_defaults() -> None:
    swf = FakeSwf(UnknownResource("GetWorkflowExecutionHistory", "UnknownResourceFault", ""))
    assert _resolver(swf, from_history=True).for_task(POLL) == TaskTimeouts(60.0, None)


def test_a_history_without_the_scheduled_event_falls_back_to_the_types_defaults() -> None:
    swf = FakeSwf([{"events": [STARTED, {"eventId": "garbage"}]}])
    assert _resolver(swf, from_history=True).for_task(POLL) == TaskTimeouts(60.0, None)
