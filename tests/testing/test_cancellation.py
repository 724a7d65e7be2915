from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_swf_helpers import Workflow, attributes, error_code, poll_activity, setup_domain

from swfbridge.testing import LocalSWF


def test_cancel_round_trip_of_a_started_activity(local_swf: LocalSWF, swf_client: Any) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1")
    task = poll_activity(swf_client)
    assert (
        swf_client.record_activity_task_heartbeat(taskToken=task["taskToken"])["cancelRequested"]
        is False
    )
    workflow.request_cancel("a1")
    requested = workflow.events_of("ActivityTaskCancelRequested")
    assert [attributes(e)["activityId"] for e in requested] == ["a1"]
    assert not workflow.events_of("ActivityTaskCanceled")  # started: the worker must agree
    answer = swf_client.record_activity_task_heartbeat(taskToken=task["taskToken"], details="p")
    assert answer["cancelRequested"] is True
    swf_client.respond_activity_task_canceled(taskToken=task["taskToken"], details="stopped")
    canceled = attributes(workflow.events_of("ActivityTaskCanceled")[0])
    scheduled = workflow.events_of("ActivityTaskScheduled")[0]
    started = workflow.events_of("ActivityTaskStarted")[0]
    assert canceled == {
        "details": "stopped",
        "scheduledEventId": scheduled["eventId"],
        "startedEventId": started["eventId"],
        "latestCancelRequestedEventId": requested[0]["eventId"],
    }
    assert workflow.history()[-1]["eventType"] == "DecisionTaskScheduled"


def test_cancelling_a_scheduled_activity_cancels_it_at_once(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1")
    workflow.request_cancel("a1")
    kinds = [e["eventType"] for e in workflow.history()]
    assert kinds[-3:] == [
        "ActivityTaskCancelRequested",
        "ActivityTaskCanceled",
        "DecisionTaskScheduled",
    ]
    assert poll_activity(swf_client)["taskToken"] == ""


def test_cancelling_an_unknown_activity_records_request_cancel_failed(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.request_cancel("nope")
    failed = attributes(workflow.events_of("RequestCancelActivityTaskFailed")[0])
    assert failed["activityId"] == "nope"
    assert failed["cause"] == "ACTIVITY_ID_UNKNOWN"
    assert workflow.history()[-1]["eventType"] == "DecisionTaskScheduled"


def test_a_canceled_activity_answers_unknown_resource_to_its_worker(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1")
    token = poll_activity(swf_client)["taskToken"]
    workflow.request_cancel("a1")
    swf_client.respond_activity_task_canceled(taskToken=token)
    with pytest.raises(ClientError) as raised:
        swf_client.respond_activity_task_canceled(taskToken=token)
    assert error_code(raised.value) == "UnknownResourceFault"
