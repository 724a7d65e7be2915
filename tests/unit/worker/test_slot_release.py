"""The worker frees an attempt's capacity slot after reporting it, and sends no
release for an attempt that holds none (the claim's reply says which; real Redis)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from celery import Celery

from swfbridge import Activity, ActivityRegistry, activity, install
from swfbridge.per_process import PerProcess
from swfbridge.state.store import BridgeState, StateConfig
from swfbridge.wire.job import ActivityJob
from swfbridge.worker.executor import ActivityExecutor
from swfbridge.worker.hooks import Attempt, AttemptHooks, add_attempt_hooks
from tests.support.fakes import FakeBoto, fake_swf
from tests.support.jobs import make_job

registry = ActivityRegistry()


@activity("1", registry=registry)
class Nothing(Activity):
    def run(self) -> None:
        return None


class SlotsFreed(AttemptHooks):
    def __init__(self) -> None:
        self.freed: list[str | None] = []

    def slot_freed(self, attempt: Attempt) -> None:
        self.freed.append(attempt.task_id)


class Releases(BridgeState):
    """The real store, counting the releases sent."""

    sent: list[str]

    def release(self, domain: str, task_list: str, member: str) -> None:
        self.sent.append(member)
        super().release(domain, task_list, member)


@pytest.fixture
def state(redis_url: str) -> Releases:
    store = Releases(config=StateConfig(url=redis_url, key_prefix=f"t-{uuid.uuid4().hex}"))
    store.sent = []
    return store


@pytest.fixture
def worker(state: Releases) -> tuple[Any, SlotsFreed, FakeBoto]:
    app = Celery("slot-release-test", set_as_current=False)
    app.conf.update(task_always_eager=True, broker_url="memory://")
    task: Any = install(app, registry=registry)
    boto = FakeBoto()
    task._executor = PerProcess(lambda: ActivityExecutor(registry=registry, swf=fake_swf(boto)))
    task._state = PerProcess(lambda: state)
    hooks = SlotsFreed()
    add_attempt_hooks(app, hooks)
    return task, hooks, boto


def _job() -> ActivityJob:
    now = time.time()
    return make_job(
        task_token="token",
        activity_id=uuid.uuid4().hex,
        activity_name="Nothing",
        started_event_id=3,
        input=json.dumps([[], {}]),
        polled_at=now,
        deadline=now + 60,
    )


def test_an_attempt_holding_a_slot_frees_it_once_reported(
    worker: tuple[Any, SlotsFreed, FakeBoto], state: Releases
) -> None:
    task, hooks, boto = worker
    job = _job()
    placeholder = state.reserve("d", "tl", limit=1, hold_s=70)
    assert placeholder is not None
    state.bind("d", "tl", placeholder, attempt_id=job.attempt_id, deadline=job.deadline)

    task.apply(args=[job.to_message()], task_id=job.attempt_id).get()

    assert boto.ops("respond_activity_task_completed")
    assert state.in_flight("d", "tl") == 0
    assert state.sent == [job.attempt_id]
    assert hooks.freed == [job.attempt_id]


def test_an_attempt_without_a_slot_sends_no_release(
    worker: tuple[Any, SlotsFreed, FakeBoto], state: Releases
) -> None:
    task, hooks, boto = worker
    job = _job()

    task.apply(args=[job.to_message()], task_id=job.attempt_id).get()

    assert boto.ops("respond_activity_task_completed")
    assert state.claimed(job.attempt_id)
    assert state.sent == []  # no poller limits capacity: nothing to free
    assert hooks.freed == []
