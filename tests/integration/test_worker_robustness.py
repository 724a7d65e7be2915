"""No message a broker hands a worker can crash it or make it unpickle."""

from __future__ import annotations

import json
import pickle
import time
import uuid

from celery import Celery
from kombu import Connection

from swfbridge.testing import ScheduledActivity, start_activities
from swfbridge.wire.job import TASK_NAME
from tests.integration.conftest import Bridge
from tests.support.processes import wait_for


class _CreatesFile:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def _send(bridge: Bridge, message: object) -> None:
    app = Celery("sender", broker=bridge.env["CELERY_BROKER_URL"])
    app.conf.task_serializer = "json"
    app.send_task(TASK_NAME, args=[message])


def _manual_task(bridge: Bridge, task_list: str) -> tuple[str, object]:
    """Schedule one Add and poll it ourselves: a real token the bridge never saw."""
    run = start_activities(
        bridge.client(),
        domain=bridge.domain,
        task_list=task_list,
        activities=[ScheduledActivity("manual", "Add", "1", input="[[1], {}]")],
        timeout_s=30,
    )
    client = bridge.client()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        task = client.poll_for_activity_task(domain=bridge.domain, taskList={"name": task_list})
        if task.get("taskToken"):
            return task["taskToken"], run
    raise AssertionError("no task polled")


def test_a_malformed_job_with_a_token_fails_its_task_and_the_worker_goes_on(
    bridge: Bridge,
) -> None:
    token, run = _manual_task(bridge, f"manual-{uuid.uuid4().hex[:6]}")
    _send(bridge, {"v": 1, "task_token": token, "activity_name": "Add"})
    outcomes = run.wait(30)  # type: ignore[attr-defined]
    outcome = outcomes["manual"]
    assert outcome.status == "failed", bridge.logs()
    assert outcome.reason.startswith("swfbridge: malformed job message")
    assert json.loads(outcome.details)["cause"] == "malformed_job"
    assert token not in bridge.worker.output()  # never log a full token


def test_garbage_and_pickled_messages_are_dropped_without_harming_the_worker(
    bridge: Bridge,
) -> None:
    for garbage in ("text", 42, None, [1, 2], {"v": 1}):
        _send(bridge, garbage)
    # A pickle payload that would create a file if it were ever unpickled.
    marker = bridge.log_dir / f"unpickled-{uuid.uuid4().hex}"
    payload = pickle.dumps(_CreatesFile(str(marker)))
    with Connection(bridge.env["CELERY_BROKER_URL"]) as conn:
        conn.Producer().publish(
            payload,
            exchange="celery",
            routing_key="celery",
            content_type="application/x-python-serialize",
            content_encoding="binary",
            headers={"task": TASK_NAME, "id": f"pickled-{uuid.uuid4().hex}", "lang": "py"},
        )
    wait_for(lambda: "untrusted content" in bridge.worker.output(), 15, "pickle refused")
    assert not marker.exists()
    wait_for(lambda: "dropping malformed job" in bridge.worker.output(), 15, "drops logged")
    assert bridge.worker.alive()
    # ...and it still runs real work.
    from swfbridge.testing import run_activities

    outcomes = run_activities(
        bridge.client(),
        domain=bridge.domain,
        task_list=bridge.task_list,
        activities=[ScheduledActivity("after", "Add", "1", input="[[2, 3], {}]")],
        timeout_s=30,
    )
    assert outcomes["after"].status == "completed" and outcomes["after"].result == "5"
