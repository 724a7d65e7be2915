from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_swf_helpers import Workflow, attributes, error_code, poll_activity, setup_domain

from swfbridge.testing import LocalSWF

# Each timeout must fire within this long after its deadline (the sweep runs every 0.1 s).
SLACK_S = 1.0


def _observed_timeout(workflow: Workflow, since: float, deadline_s: float) -> dict[str, Any]:
    event = workflow.wait_for("ActivityTaskTimedOut", timeout_s=deadline_s + SLACK_S + 1)
    elapsed_s = time.monotonic() - since
    assert deadline_s - 0.05 <= elapsed_s <= deadline_s + SLACK_S
    return attributes(event)


def test_schedule_to_start_fires_when_nobody_polls(local_swf: LocalSWF, swf_client: Any) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1", scheduleToStartTimeout="0.5")
    attrs = _observed_timeout(workflow, time.monotonic(), 0.5)
    assert attrs["timeoutType"] == "SCHEDULE_TO_START"
    assert poll_activity(swf_client)["taskToken"] == ""


def test_schedule_to_close_counts_from_scheduling(local_swf: LocalSWF, swf_client: Any) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1", scheduleToCloseTimeout="1.2")
    scheduled_at = time.monotonic()
    time.sleep(0.4)
    assert poll_activity(swf_client)["activityId"] == "a1"
    attrs = _observed_timeout(workflow, scheduled_at, 1.2)
    assert attrs["timeoutType"] == "SCHEDULE_TO_CLOSE"


def test_start_to_close_counts_from_the_poll_not_from_scheduling(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1", startToCloseTimeout="0.5")
    time.sleep(0.8)  # longer than the timeout: it must not run while queued
    task = poll_activity(swf_client)
    polled_at = time.monotonic()
    assert task["activityId"] == "a1"
    attrs = _observed_timeout(workflow, polled_at, 0.5)
    assert attrs["timeoutType"] == "START_TO_CLOSE"


def test_heartbeat_timeout_counts_from_the_poll_and_keeps_the_last_details(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1", heartbeatTimeout="0.5")
    time.sleep(0.8)  # longer than the heartbeat timeout while queued
    token = poll_activity(swf_client)["taskToken"]
    for step in range(3):
        time.sleep(0.2)
        answer = swf_client.record_activity_task_heartbeat(taskToken=token, details=f"step-{step}")
        assert answer["cancelRequested"] is False
    last_beat_at = time.monotonic()
    attrs = _observed_timeout(workflow, last_beat_at, 0.5)
    assert attrs["timeoutType"] == "HEARTBEAT"
    assert attrs["details"] == "step-2"


def test_an_activity_timeout_schedules_a_new_decision_task(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1", scheduleToStartTimeout="0.3")
    workflow.wait_for("ActivityTaskTimedOut")
    kinds = [e["eventType"] for e in workflow.history()]
    assert kinds[-2:] == ["ActivityTaskTimedOut", "DecisionTaskScheduled"]
    assert workflow.poll_decision()["taskToken"]


def test_an_activity_type_with_fractional_default_timeouts_works(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client, defaultTaskStartToCloseTimeout="0.4")
    workflow = Workflow(swf_client)
    workflow.schedule("a1")
    scheduled = attributes(workflow.events_of("ActivityTaskScheduled")[0])
    assert scheduled["startToCloseTimeout"] == "0.4"
    poll_activity(swf_client)
    assert attributes(workflow.wait_for("ActivityTaskTimedOut"))["timeoutType"] == "START_TO_CLOSE"
    swf_client.list_domains(registrationStatus="REGISTERED")  # the server is still healthy


def test_a_malformed_timeout_is_a_validation_error_not_a_server_error(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    token = workflow.poll_decision()["taskToken"]
    with pytest.raises(ClientError) as raised:
        swf_client.respond_decision_task_completed(
            taskToken=token,
            decisions=[
                {
                    "decisionType": "ScheduleActivityTask",
                    "scheduleActivityTaskDecisionAttributes": {
                        "activityType": {"name": "work", "version": "1"},
                        "activityId": "a1",
                        "heartbeatTimeout": "soon",
                    },
                }
            ],
        )
    assert error_code(raised.value) == "ValidationException"


def test_decision_task_start_to_close_none_never_times_out(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client, task_start_to_close="NONE")
    token = workflow.poll_decision()["taskToken"]
    time.sleep(0.3)
    swf_client.respond_decision_task_completed(
        taskToken=token, decisions=[{"decisionType": "CompleteWorkflowExecution"}]
    )
    assert workflow.events_of("WorkflowExecutionCompleted")


def test_a_timed_out_decision_task_is_rescheduled_and_its_token_is_unknown(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client, task_start_to_close="0.5")
    token = workflow.poll_decision()["taskToken"]
    polled_at = time.monotonic()
    event = workflow.wait_for("DecisionTaskTimedOut")
    assert time.monotonic() - polled_at <= 0.5 + SLACK_S
    assert attributes(event)["timeoutType"] == "START_TO_CLOSE"
    with pytest.raises(ClientError) as raised:
        swf_client.respond_decision_task_completed(taskToken=token, decisions=[])
    assert error_code(raised.value) == "UnknownResourceFault"
    assert workflow.poll_decision()["taskToken"] != token
