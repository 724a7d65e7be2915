"""The local endpoint's poll answers and paging, as the SWF API reference lists them."""

from __future__ import annotations

from typing import Any

from tests.testing.local_swf_helpers import ACTIVITY, DOMAIN, TASK_LIST, Workflow, setup_domain

DECISION_FIELDS = {
    "taskToken",
    "startedEventId",
    "previousStartedEventId",
    "workflowExecution",
    "workflowType",
    "events",
}
ACTIVITY_FIELDS = {
    "taskToken",
    "activityId",
    "startedEventId",
    "workflowExecution",
    "activityType",
    "input",
}


def _schedule(aid: str) -> dict[str, Any]:
    return {
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": {
            "activityId": aid,
            "activityType": ACTIVITY,
            "input": '{"n": 1}',
            "taskList": {"name": TASK_LIST},
        },
    }


def _long_history(client: Any, signals: int = 1100) -> Workflow:
    setup_domain(client)
    wf = Workflow(client)
    for _ in range(signals):
        client.signal_workflow_execution(
            domain=DOMAIN, workflowId=wf.workflow_id, runId=wf.run_id, signalName="grow"
        )
    return wf


def _history(client: Any, wf: Workflow, **paging: Any) -> tuple[list[int], int]:
    ids: list[int] = []
    pages = 0
    token = None
    while True:
        extra: dict[str, Any] = {"nextPageToken": token} if token else {}
        answer = client.get_workflow_execution_history(
            domain=DOMAIN,
            execution={"workflowId": wf.workflow_id, "runId": wf.run_id},
            **paging,
            **extra,
        )
        ids += [e["eventId"] for e in answer["events"]]
        pages += 1
        token = answer.get("nextPageToken")
        if not token:
            return ids, pages


def test_both_poll_answers_carry_every_field_on_the_first_and_later_tasks(swf_client: Any) -> None:
    setup_domain(swf_client)
    wf = Workflow(swf_client)
    first = wf.poll_decision()
    assert set(first) >= DECISION_FIELDS
    assert first["previousStartedEventId"] == 0
    swf_client.respond_decision_task_completed(
        taskToken=first["taskToken"], decisions=[_schedule("a1")]
    )
    task = swf_client.poll_for_activity_task(domain=DOMAIN, taskList={"name": TASK_LIST})
    assert set(task) >= ACTIVITY_FIELDS
    swf_client.respond_activity_task_completed(taskToken=task["taskToken"], result="1")
    later = wf.poll_decision()
    assert set(later) >= DECISION_FIELDS
    assert later["previousStartedEventId"] == first["startedEventId"]
    swf_client.respond_decision_task_completed(
        taskToken=later["taskToken"], decisions=[_schedule("a2")]
    )
    second = swf_client.poll_for_activity_task(domain=DOMAIN, taskList={"name": TASK_LIST})
    assert set(second) >= ACTIVITY_FIELDS
    assert second["activityId"] == "a2"


def test_empty_polls_answer_an_empty_task_token(swf_client: Any) -> None:
    setup_domain(swf_client)
    decision = swf_client.poll_for_decision_task(domain=DOMAIN, taskList={"name": "none"})
    activity = swf_client.poll_for_activity_task(domain=DOMAIN, taskList={"name": "none"})
    assert decision["taskToken"] == "" and decision["previousStartedEventId"] == 0
    assert activity["taskToken"] == ""


def test_a_history_over_1000_events_pages_forwards_and_in_reverse(swf_client: Any) -> None:
    wf = _long_history(swf_client)
    ids, pages = _history(swf_client, wf)
    assert len(ids) > 1000 and ids == list(range(1, len(ids) + 1)) and pages == 2
    reverse, pages = _history(swf_client, wf, reverseOrder=True)
    assert reverse == ids[::-1] and pages == 2
    small, pages = _history(swf_client, wf, maximumPageSize=300)
    assert small == ids and pages == -(-len(ids) // 300)
    small_reverse, _ = _history(swf_client, wf, maximumPageSize=300, reverseOrder=True)
    assert small_reverse == ids[::-1]
    paginator = swf_client.get_paginator("get_workflow_execution_history")
    pages_seen = list(
        paginator.paginate(
            domain=DOMAIN,
            execution={"workflowId": wf.workflow_id, "runId": wf.run_id},
            PaginationConfig={"PageSize": 500},
        )
    )
    assert [e["eventId"] for page in pages_seen for e in page["events"]] == ids


def test_the_field_lists_checked_here_are_botocores_output_shapes(swf_client: Any) -> None:
    model = swf_client.meta.service_model
    decision = model.operation_model("PollForDecisionTask").output_shape.members
    activity = model.operation_model("PollForActivityTask").output_shape.members
    assert set(decision) - {"nextPageToken"} == DECISION_FIELDS
    assert set(activity) == ACTIVITY_FIELDS


def test_the_last_history_page_has_no_next_page_token(swf_client: Any) -> None:
    setup_domain(swf_client)
    wf = Workflow(swf_client)
    answer = swf_client.get_workflow_execution_history(
        domain=DOMAIN, execution={"workflowId": wf.workflow_id, "runId": wf.run_id}
    )
    assert "nextPageToken" not in answer and answer["events"]


def _decision_pages(client: Any, wf: Workflow, **paging: Any) -> tuple[list[int], set[str]]:
    task = client.poll_for_decision_task(
        domain=DOMAIN, taskList={"name": wf.decision_list}, **paging
    )
    ids = [e["eventId"] for e in task["events"]]
    tokens = {task["taskToken"]}
    while task.get("nextPageToken"):
        task = client.poll_for_decision_task(
            domain=DOMAIN,
            taskList={"name": wf.decision_list},
            nextPageToken=task["nextPageToken"],
            **paging,
        )
        assert set(task) >= DECISION_FIELDS
        ids += [e["eventId"] for e in task["events"]]
        tokens.add(task["taskToken"])
    client.respond_decision_task_completed(taskToken=task["taskToken"], decisions=[])
    return ids, tokens


def test_a_decider_pages_through_a_long_history_in_its_decision_task(swf_client: Any) -> None:
    wf = _long_history(swf_client)
    ids, tokens = _decision_pages(swf_client, wf)
    assert len(ids) > 1000 and ids == list(range(1, len(ids) + 1)) and len(tokens) == 1
    wf.signal()
    reverse, _ = _decision_pages(swf_client, wf, reverseOrder=True, maximumPageSize=250)
    assert reverse == list(range(len(reverse), 0, -1)) and len(reverse) > len(ids)


def test_list_activity_types_pages_by_maximum_page_size(swf_client: Any) -> None:
    setup_domain(swf_client)
    for version in ("2", "3"):
        swf_client.register_activity_type(domain=DOMAIN, name="work", version=version)
    first = swf_client.list_activity_types(
        domain=DOMAIN, registrationStatus="REGISTERED", maximumPageSize=2
    )
    rest = swf_client.list_activity_types(
        domain=DOMAIN,
        registrationStatus="REGISTERED",
        maximumPageSize=2,
        nextPageToken=first["nextPageToken"],
    )
    versions = [t["activityType"]["version"] for t in first["typeInfos"] + rest["typeInfos"]]
    assert sorted(versions) == ["1", "2", "3"] and "nextPageToken" not in rest
