from __future__ import annotations

import threading
import time
from typing import Any

from local_swf_helpers import DOMAIN, TASK_LIST, Workflow, poll_activity, setup_domain

from swfbridge.testing import LocalSWF
from swfbridge.testing.pytest_plugin import SESSION_POLL_TIMEOUT_S


def test_empty_activity_poll_answers_empty_token_after_poll_timeout(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    started = time.monotonic()
    answer = poll_activity(swf_client)
    elapsed_s = time.monotonic() - started
    assert answer["taskToken"] == ""
    assert answer["startedEventId"] == 0
    assert SESSION_POLL_TIMEOUT_S - 0.1 <= elapsed_s < SESSION_POLL_TIMEOUT_S + 1.0


def test_empty_decision_poll_answers_empty_token_after_poll_timeout(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    started = time.monotonic()
    answer = swf_client.poll_for_decision_task(domain=DOMAIN, taskList={"name": "nobody"})
    elapsed_s = time.monotonic() - started
    assert answer["taskToken"] == ""
    assert answer["startedEventId"] == 0
    assert SESSION_POLL_TIMEOUT_S - 0.1 <= elapsed_s < SESSION_POLL_TIMEOUT_S + 1.0


def _poll_in_background(poll: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def target() -> None:
        box["answer"] = poll()
        box["returned_at"] = time.monotonic()

    thread = threading.Thread(target=target)
    thread.start()
    time.sleep(0.3)  # let the poll reach the server and wait
    return thread, box


# A waiting poll must be woken by the scheduling itself: without that it would
# answer only at the poll timeout (2 s here). Each bound is checked on the
# median of a few trials, so one scheduling hiccup of a busy machine does not
# fail the run while a missing wake-up still does.
TRIALS = 5


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def test_waiting_activity_poll_returns_within_50_ms_of_the_task_being_scheduled(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    delays = []
    for trial in range(TRIALS):
        workflow = Workflow(swf_client)
        decision = workflow.poll_decision()
        thread, box = _poll_in_background(lambda: poll_activity(local_swf.client()))
        swf_client.respond_decision_task_completed(
            taskToken=decision["taskToken"],
            decisions=[
                {
                    "decisionType": "ScheduleActivityTask",
                    "scheduleActivityTaskDecisionAttributes": {
                        "activityType": {"name": "work", "version": "1"},
                        "activityId": f"a{trial}",
                    },
                }
            ],
        )
        scheduled_at = time.monotonic()
        thread.join(5)
        assert box["answer"]["activityId"] == f"a{trial}"
        delays.append(box["returned_at"] - scheduled_at)
    assert _median(delays) < 0.05, delays


def test_waiting_decision_poll_returns_within_50_ms_of_a_workflow_start(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    setup_domain(swf_client)
    delays = []
    for trial in range(TRIALS):
        task_list = f"decisions-{trial}"
        thread, box = _poll_in_background(
            lambda task_list=task_list: local_swf.client().poll_for_decision_task(
                domain=DOMAIN, taskList={"name": task_list}
            )
        )
        swf_client.start_workflow_execution(
            domain=DOMAIN,
            workflowId=f"w{trial}",
            workflowType={"name": "wf", "version": "1"},
            taskList={"name": task_list},
        )
        started_at = time.monotonic()
        thread.join(5)
        assert box["answer"]["taskToken"]
        delays.append(box["returned_at"] - started_at)
    assert _median(delays) < 0.05, delays


def test_a_task_list_only_serves_its_own_tasks(local_swf: LocalSWF, swf_client: Any) -> None:
    setup_domain(swf_client)
    workflow = Workflow(swf_client)
    workflow.schedule("a1", taskList={"name": "elsewhere"})
    assert (
        swf_client.count_pending_activity_tasks(domain=DOMAIN, taskList={"name": "elsewhere"})[
            "count"
        ]
        == 1
    )
    assert poll_activity(swf_client, "elsewhere")["activityId"] == "a1"
    assert (
        swf_client.count_pending_activity_tasks(domain=DOMAIN, taskList={"name": TASK_LIST})[
            "count"
        ]
        == 0
    )
