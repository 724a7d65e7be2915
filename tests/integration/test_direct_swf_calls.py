"""The per-task SWF calls sent directly (:mod:`swfbridge.aws.direct`), against
the local SWF endpoint over HTTP: SWF reads them as boto3's, their answers are
boto3's, and errors translate the same."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from swfbridge.aws.swf import SwfClient, SwfClientConfig, Throttled, UnknownResource
from swfbridge.testing import LocalSWF
from swfbridge.testing.decider import (
    ScheduledActivity,
    register_activity_type,
    start_activities,
)

TASK_LIST = "direct-calls"


@pytest.fixture
def clients(local_swf: LocalSWF, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    made = {}
    for name, direct in (("direct", True), ("boto3", False)):
        config = SwfClientConfig(
            region="us-east-1", endpoint_url=local_swf.endpoint_url, direct_calls=direct
        )
        made[name] = SwfClient(config=config)
    sent_by_boto3: list[str] = []
    made["direct"].boto.meta.events.register(
        "before-call.swf", lambda model, **_: sent_by_boto3.append(model.name)
    )
    made["sent_by_boto3"] = sent_by_boto3
    yield made


def _poll(swf: SwfClient, domain: str) -> dict[str, Any]:
    for _ in range(10):
        task = swf.call(
            "poll_for_activity_task", domain=domain, taskList={"name": TASK_LIST}, identity="t"
        )
        if task.get("taskToken"):
            return task
    raise AssertionError("no activity task")


def test_the_per_task_calls_are_sent_directly_and_read_as_boto3s(
    local_swf: LocalSWF, clients: dict[str, Any]
) -> None:
    direct: SwfClient = clients["direct"]
    boto3_path: SwfClient = clients["boto3"]
    assert direct.sends_directly and not boto3_path.sends_directly
    domain = f"direct-{uuid.uuid4().hex[:8]}"
    client = local_swf.client()
    client.register_domain(name=domain, workflowExecutionRetentionPeriodInDays="1")
    register_activity_type(client, domain=domain, name="echo", version="1")
    run = start_activities(
        local_swf.client(),
        domain=domain,
        task_list=TASK_LIST,
        create_domain=False,
        timeout_s=30,
        activities=[
            ScheduledActivity(f"a{n}", "echo", "1", input=f'{{"n": {n}, "text": "é"}}')
            for n in (1, 2, 3)
        ],
    )

    first, second, third = (_poll(swf, domain) for swf in (direct, boto3_path, direct))
    assert {k: type(v) for k, v in first.items() if k != "ResponseMetadata"} == {
        k: type(v) for k, v in second.items() if k != "ResponseMetadata"
    }
    assert first["activityType"] == {"name": "echo", "version": "1"}
    assert first["input"].endswith('"text": "é"}')

    beat = direct.call("record_activity_task_heartbeat", taskToken=first["taskToken"], details="½")
    assert beat["cancelRequested"] is False
    direct.call("respond_activity_task_completed", taskToken=first["taskToken"], result="r-é")
    boto3_path.call("respond_activity_task_completed", taskToken=second["taskToken"], result="r2")
    direct.call(
        "respond_activity_task_failed", taskToken=third["taskToken"], reason="no", details="d"
    )
    outcomes = run.wait(30)
    by_input = {outcome.activity_id: outcome for outcome in outcomes.values()}
    completed = {k: v for k, v in by_input.items() if v.status == "completed"}
    assert sorted(v.result for v in completed.values()) == ["r-é", "r2"]
    assert [v.reason for v in by_input.values() if v.status == "failed"] == ["no"]

    execution = {"workflowId": run.workflow_id, "runId": run.wait_started()}
    pages = [
        swf.call(
            "get_workflow_execution_history",
            domain=domain,
            execution=execution,
            reverseOrder=True,
            maximumPageSize=10,
        )
        for swf in (direct, boto3_path)
    ]
    assert pages[0]["events"] == pages[1]["events"]  # datetimes equal as instants
    assert pages[0].get("nextPageToken") == pages[1].get("nextPageToken")
    assert len(pages[0]["events"]) == 10

    for swf in (direct, boto3_path):  # a closed task: the same error either way
        with pytest.raises(UnknownResource) as closed:
            swf.call("respond_activity_task_completed", retry=False, taskToken=first["taskToken"])
        assert closed.value.code == "UnknownResourceFault"
    assert clients["sent_by_boto3"] == []


def test_a_throttled_direct_call_is_throttled(local_swf: LocalSWF, clients: dict[str, Any]) -> None:
    local_swf.inject_faults(operations=["RecordActivityTaskHeartbeat"], kind="throttle")
    with pytest.raises(Throttled):
        clients["direct"].call("record_activity_task_heartbeat", retry=False, taskToken="t")
