from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_swf_helpers import DOMAIN, Workflow, error_code, http_status, poll_activity, setup_domain

from swfbridge.testing import LocalSWF

Call = Callable[[Any, str, int], Any]

CASES: dict[str, tuple[int, Call]] = {
    "result": (
        32_768,
        lambda c, t, n: c.respond_activity_task_completed(taskToken=t, result="x" * n),
    ),
    "failure_reason": (
        256,
        lambda c, t, n: c.respond_activity_task_failed(taskToken=t, reason="x" * n),
    ),
    "failure_details": (
        32_768,
        lambda c, t, n: c.respond_activity_task_failed(taskToken=t, details="x" * n),
    ),
    "cancel_details": (
        32_768,
        lambda c, t, n: c.respond_activity_task_canceled(taskToken=t, details="x" * n),
    ),
    "heartbeat_details": (
        2_048,
        lambda c, t, n: c.record_activity_task_heartbeat(taskToken=t, details="x" * n),
    ),
    "poll_identity": (
        256,
        lambda c, t, n: c.poll_for_activity_task(
            domain=DOMAIN, taskList={"name": "empty"}, identity="x" * n
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_size_limit_is_enforced_by_the_server(
    local_swf: LocalSWF, swf_client: Any, case: str
) -> None:
    limit, call = CASES[case]
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1")
    token = poll_activity(swf_client)["taskToken"]
    # botocore checks no maximum lengths, so this reaches the server.
    with pytest.raises(ClientError) as raised:
        call(swf_client, token, limit + 1)
    assert error_code(raised.value) == "ValidationException"
    assert http_status(raised.value) == 400
    if case == "poll_identity":
        local_swf.inject_faults(operations={"PollForActivityTask"}, kind="throttle")
        with pytest.raises(ClientError):  # proves the call would otherwise go through
            call(swf_client, token, limit)
        return
    call(swf_client, token, limit)  # exactly at the limit is fine


def test_workflow_input_over_32768_characters_is_rejected(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    with pytest.raises(ClientError) as raised:
        swf_client.start_workflow_execution(
            domain=DOMAIN,
            workflowId="w",
            workflowType={"name": "wf", "version": "1"},
            taskList={"name": "d"},
            input="x" * 32_769,
        )
    assert error_code(raised.value) == "ValidationException"


def test_activity_input_over_32768_characters_rejects_the_whole_decision(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    with pytest.raises(ClientError) as raised:
        workflow.schedule("a1", input="x" * 32_769)
    assert error_code(raised.value) == "ValidationException"
    assert not workflow.events_of("ActivityTaskScheduled")
