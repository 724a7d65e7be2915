from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from local_swf_helpers import Workflow, error_code, http_status, poll_activity, setup_domain

from swfbridge.testing import LocalSWF

Closer = Callable[[Any, Workflow, str], None]


def _complete(client: Any, workflow: Workflow, token: str) -> None:
    client.respond_activity_task_completed(taskToken=token, result="r")


def _fail(client: Any, workflow: Workflow, token: str) -> None:
    client.respond_activity_task_failed(taskToken=token, reason="boom")


def _cancel(client: Any, workflow: Workflow, token: str) -> None:
    workflow.request_cancel("a1")
    client.respond_activity_task_canceled(taskToken=token)


def _time_out(client: Any, workflow: Workflow, token: str) -> None:
    workflow.wait_for("ActivityTaskTimedOut")


def _close_workflow(client: Any, workflow: Workflow, token: str) -> None:
    workflow.terminate()


RESPONDERS: dict[str, Callable[[Any, str], Any]] = {
    "completed": lambda c, t: c.respond_activity_task_completed(taskToken=t, result="x"),
    "failed": lambda c, t: c.respond_activity_task_failed(taskToken=t, reason="x"),
    "canceled": lambda c, t: c.respond_activity_task_canceled(taskToken=t),
    "heartbeat": lambda c, t: c.record_activity_task_heartbeat(taskToken=t),
}


@pytest.mark.parametrize(
    "close",
    [_complete, _fail, _cancel, _time_out, _close_workflow],
    ids=["completed", "failed", "canceled", "timed_out", "workflow_closed"],
)
def test_every_respond_and_heartbeat_on_a_closed_activity_is_unknown_resource(
    local_swf: LocalSWF, swf_client: Any, close: Closer
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    # Only the time-out case may time out: elsewhere a slow machine must not
    # close the task before the closer under test does.
    workflow.schedule("a1", heartbeatTimeout="0.3" if close is _time_out else "60")
    token = poll_activity(swf_client)["taskToken"]
    close(swf_client, workflow, token)
    for name, respond in RESPONDERS.items():
        with pytest.raises(ClientError) as raised:
            respond(swf_client, token)
        assert error_code(raised.value) == "UnknownResourceFault", name
        assert http_status(raised.value) == 400, name


def test_responding_to_a_completed_decision_task_is_unknown_resource(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    token = workflow.poll_decision()["taskToken"]
    swf_client.respond_decision_task_completed(taskToken=token, decisions=[])
    with pytest.raises(ClientError) as raised:
        swf_client.respond_decision_task_completed(taskToken=token, decisions=[])
    assert error_code(raised.value) == "UnknownResourceFault"


def test_responding_to_a_decision_task_of_a_closed_workflow_is_unknown_resource(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    token = workflow.poll_decision()["taskToken"]
    workflow.terminate()
    with pytest.raises(ClientError) as raised:
        swf_client.respond_decision_task_completed(taskToken=token, decisions=[])
    assert error_code(raised.value) == "UnknownResourceFault"


def test_a_garbage_token_is_a_validation_error(local_swf: LocalSWF, swf_client: Any) -> None:
    setup_domain(swf_client)
    with pytest.raises(ClientError) as raised:
        swf_client.respond_activity_task_completed(taskToken="not-a-token")
    assert error_code(raised.value) == "ValidationException"


def test_closed_executions_are_forgotten_after_retention_and_tokens_stay_closed(
    local_swf: LocalSWF, swf_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swfbridge.testing import _runtime

    monkeypatch.setattr(_runtime.SETTINGS, "retention_s", 0.2)
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1")
    token = poll_activity(swf_client)["taskToken"]
    swf_client.respond_activity_task_completed(taskToken=token)
    workflow.terminate()
    workflow.history()  # still there right after closing
    import time

    time.sleep(0.6)
    with pytest.raises(ClientError) as raised:
        workflow.history()
    assert error_code(raised.value) == "UnknownResourceFault"
    with pytest.raises(ClientError) as raised:
        swf_client.respond_activity_task_completed(taskToken=token)
    assert error_code(raised.value) == "UnknownResourceFault"
