from __future__ import annotations

import threading
import time
from typing import Any

from local_swf_helpers import DOMAIN, TASK_LIST, poll_activity

from swfbridge.testing import (
    ActivityOutcome,
    LocalSWF,
    ScheduledActivity,
    register_activity_type,
    register_domain,
    run_activities,
    start_activities,
)


def _register(client: Any) -> None:
    register_domain(client, DOMAIN)
    register_domain(client, DOMAIN)  # idempotent
    register_activity_type(client, domain=DOMAIN, name="work", version="1")
    register_activity_type(client, domain=DOMAIN, name="work", version="1")


def _worker(client: Any, stop: threading.Event, behaviour: dict[str, str]) -> None:
    while not stop.is_set():
        task = poll_activity(client)
        token = task["taskToken"]
        if not token:
            continue
        action = behaviour.get(task["activityId"], "complete")
        if action == "complete":
            client.respond_activity_task_completed(taskToken=token, result=f"ok:{task['input']}")
        elif action == "fail":
            client.respond_activity_task_failed(taskToken=token, reason="boom", details="trace")
        elif action == "heartbeat_until_canceled":
            while not client.record_activity_task_heartbeat(taskToken=token)["cancelRequested"]:
                time.sleep(0.05)
            client.respond_activity_task_canceled(taskToken=token, details="bye")
        # "ignore": let it time out


def test_run_activities_reports_every_kind_of_outcome(local_swf: LocalSWF, swf_client: Any) -> None:
    _register(swf_client)
    stop = threading.Event()
    behaviour = {"f": "fail", "t": "ignore", "c": "heartbeat_until_canceled"}
    worker = threading.Thread(target=_worker, args=(local_swf.client(), stop, behaviour))
    worker.start()
    try:
        outcomes = run_activities(
            swf_client,
            domain=DOMAIN,
            task_list=TASK_LIST,
            activities=[
                ScheduledActivity("ok", "work", "1", input="1"),
                ScheduledActivity("f", "work", "1"),
                ScheduledActivity("t", "work", "1", start_to_close="0.3"),
                ScheduledActivity("c", "work", "1"),
                ScheduledActivity("missing", "nope", "1"),
            ],
            cancel_after_start={"c"},
            timeout_s=20,
        )
    finally:
        stop.set()
        worker.join(10)
    assert outcomes == {
        "ok": ActivityOutcome("ok", "completed", result="ok:1"),
        "f": ActivityOutcome("f", "failed", reason="boom", details="trace"),
        "t": ActivityOutcome("t", "timed_out", timeout_type="START_TO_CLOSE"),
        "c": ActivityOutcome("c", "canceled", details="bye"),
        "missing": ActivityOutcome(
            "missing", "schedule_failed", reason="ACTIVITY_TYPE_DOES_NOT_EXIST"
        ),
    }


def test_a_background_run_can_be_told_to_cancel_a_running_activity(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    _register(swf_client)
    run = start_activities(
        local_swf.client(),
        domain=DOMAIN,
        task_list=TASK_LIST,
        activities=[ScheduledActivity("long", "work", "1")],
        timeout_s=20,
    )
    token = poll_activity(swf_client)["taskToken"]
    assert not run.done()
    run.request_cancel("long")
    deadline = time.monotonic() + 5
    while not swf_client.record_activity_task_heartbeat(taskToken=token)["cancelRequested"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    swf_client.respond_activity_task_canceled(taskToken=token)
    assert run.wait(10)["long"].status == "canceled"


def test_cancel_after_start_cancels_an_activity_even_when_nothing_else_happens(
    local_swf: LocalSWF, swf_client: Any
) -> None:
    # An activity start gives the decider no decision task of its own.
    _register(swf_client)
    stop = threading.Event()
    worker = threading.Thread(
        target=_worker, args=(local_swf.client(), stop, {"only": "heartbeat_until_canceled"})
    )
    worker.start()
    try:
        outcomes = run_activities(
            swf_client,
            domain=DOMAIN,
            task_list=TASK_LIST,
            activities=[ScheduledActivity("only", "work", "1")],
            cancel_after_start={"only"},
            timeout_s=10,
        )
    finally:
        stop.set()
        worker.join(10)
    assert outcomes["only"].status == "canceled"
