"""Looking for queued jobs in a real Redis broker, and publishing the lost ones
again (swfbridge.poller.brokerlook, swfbridge.poller.recovery).

The broker and the state store are a real redis-server; messages are published
by the poller's own dispatcher and taken by kombu's own consumer. SWF is a fake:
what is checked is which jobs are published again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from swfbridge.aws.swf import UnknownResource
from swfbridge.poller.build import celery_dispatcher
from swfbridge.poller.dispatch import CeleryDispatcher
from swfbridge.poller.recovery import LostJobRecovery, RecoveryConfig
from swfbridge.state.queued import CHECKS, QueuedJobs
from swfbridge.state.store import BridgeState, StateConfig
from swfbridge.wire.job import ActivityJob
from tests.support.jobs import make_job


class FakeSwf:
    """Answers heartbeats: open tasks by default, closed ones raise UnknownResource."""

    def __init__(self) -> None:
        self.closed: set[str] = set()
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def call(self, operation: str, *, retry: bool, taskToken: str) -> dict[str, Any]:
        with self.lock:
            self.calls.append(taskToken)
        if taskToken in self.closed:
            raise UnknownResource(operation, "UnknownResourceFault", "closed")
        return {"cancelRequested": False}


def _job(n: int, *, start_to_close_s: float = 60.0) -> ActivityJob:
    now = time.time()
    return make_job(
        task_token=f"token-{n}",
        activity_id=f"a{n}",
        workflow_id=f"w-{uuid.uuid4().hex[:6]}",
        started_event_id=n,
        input=f'{{"n": {n}}}',
        polled_at=now,
        deadline=now + start_to_close_s,
    )


@pytest.fixture
def queue() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def dispatcher(redis_url: str, queue: str) -> Iterator[CeleryDispatcher]:
    dispatcher = celery_dispatcher(redis_url, queue=queue)
    yield dispatcher
    dispatcher.app.close()


@pytest.fixture
def state(redis_url: str) -> BridgeState:
    return BridgeState(config=StateConfig(url=redis_url, key_prefix=f"t-{uuid.uuid4().hex}"))


def _consumer_app(redis_url: str) -> Celery:
    return Celery("consumer", broker=redis_url)


def test_the_broker_look_finds_waiting_and_unacknowledged_messages_only(
    dispatcher: CeleryDispatcher, redis_url: str, queue: str
) -> None:
    waiting, taken, acked, never = _job(1), _job(2), _job(3), _job(4)
    for job in (taken, acked, waiting):
        dispatcher.publish(job)
    with _consumer_app(redis_url).connection_for_read() as conn:
        simple = conn.SimpleQueue(queue)
        first = simple.get(timeout=5)  # published first: `taken`, now unacked
        second = simple.get(timeout=5)  # `acked`
        second.ack()
        ids = [j.attempt_id for j in (waiting, taken, acked, never)]
        assert dispatcher.in_broker(ids) == {waiting.attempt_id, taken.attempt_id}
        first.ack()
        assert dispatcher.in_broker(ids) == {waiting.attempt_id}
        simple.close()


def test_the_broker_look_cannot_tell_past_its_scan_limit(
    dispatcher: CeleryDispatcher, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("swfbridge.poller.dispatch.MAX_LOOK_SCAN", 2)
    jobs = [_job(n) for n in range(3)]
    for job in jobs:
        dispatcher.publish(job)
    assert dispatcher.in_broker([jobs[0].attempt_id]) is None


def _record(state: BridgeState, job: ActivityJob, *, check_due: float) -> None:
    QueuedJobs(state).record(job, now=time.time(), beat_due=None, check_due=check_due)


def _recovery(state: BridgeState, dispatcher: CeleryDispatcher, swf: FakeSwf) -> LostJobRecovery:
    counts: list[str] = []
    recovery = LostJobRecovery(
        swf=swf,  # type: ignore[arg-type]
        state=state,
        dispatcher=dispatcher,
        domain="d",
        task_list="tl",
        config=RecoveryConfig(min_interval_s=5.0),
        count=counts.append,
    )
    recovery.counted = counts  # type: ignore[attr-defined]
    return recovery


def _drain(redis_url: str, queue: str) -> list[str]:
    """Every attempt id waiting in ``queue``, taken and acknowledged."""
    ids = []
    with _consumer_app(redis_url).connection_for_read() as conn:
        simple = conn.SimpleQueue(queue)
        while True:
            try:
                message = simple.get(timeout=0.5)
            except simple.Empty:
                break
            ids.append(message.headers["id"])
            message.ack()
        simple.close()
    return ids


def test_a_lost_job_is_published_again_once_and_looked_for_later(
    state: BridgeState, dispatcher: CeleryDispatcher, redis_url: str, queue: str
) -> None:
    swf = FakeSwf()
    lost, waiting = _job(1), _job(2)
    for job in (lost, waiting):
        _record(state, job, check_due=time.time() - 1)
    dispatcher.publish(waiting)  # `lost` was never stored by the broker
    recovery = _recovery(state, dispatcher, swf)

    recovery.look_once()

    assert recovery.counted == ["jobs_republished"]  # type: ignore[attr-defined]
    assert swf.calls == [lost.task_token]  # asked SWF whether the task is open
    assert sorted(_drain(redis_url, queue)) == sorted([lost.attempt_id, waiting.attempt_id])
    queued = QueuedJobs(state)
    # Both still looked after (not yet claimed), at the next interval: not at once.
    assert queued.count("d", "tl", schedule=CHECKS) == 2
    assert recovery.look_once() is False and recovery.counted == ["jobs_republished"]  # type: ignore[attr-defined]
    next_look = queued.next_due("d", "tl", schedule=CHECKS)
    assert next_look is not None and next_look > time.time() + 4


def test_the_republished_job_carries_its_input(
    state: BridgeState, dispatcher: CeleryDispatcher, redis_url: str, queue: str
) -> None:
    lost = _job(7)
    _record(state, lost, check_due=time.time() - 1)
    _recovery(state, dispatcher, FakeSwf()).look_once()
    with _consumer_app(redis_url).connection_for_read() as conn:
        simple = conn.SimpleQueue(queue)
        message = simple.get(timeout=5)
        args, _kwargs, _embed = message.decode()
        message.ack()
        simple.close()
    assert ActivityJob.from_message(args[0]) == lost


def test_a_claimed_job_leaves_the_record_in_the_claim_itself(
    state: BridgeState, dispatcher: CeleryDispatcher
) -> None:
    job = _job(3)
    QueuedJobs(state).record(job, now=time.time(), beat_due=time.time(), check_due=time.time())
    assert state.claim(job.attempt_id, deadline=job.deadline, owner="w", domain="d", task_list="tl")
    queued = QueuedJobs(state)
    assert queued.count("d", "tl", schedule=CHECKS) == 0
    assert queued.count("d", "tl") == 0
    assert queued.load(job.attempt_id) is None


def test_claimed_and_closed_jobs_are_forgotten_not_published_again(
    state: BridgeState, dispatcher: CeleryDispatcher, redis_url: str, queue: str
) -> None:
    swf = FakeSwf()
    claimed, closed = _job(4), _job(5)
    swf.closed.add(closed.task_token)
    for job in (claimed, closed):
        _record(state, job, check_due=time.time() - 1)
    # Claimed by a worker that predates unlisting at the claim: only the claim key.
    assert state.claim(claimed.attempt_id, deadline=claimed.deadline, owner="w")
    recovery = _recovery(state, dispatcher, swf)

    recovery.look_once()

    assert recovery.counted == []  # type: ignore[attr-defined]
    assert _drain(redis_url, queue) == []
    assert QueuedJobs(state).count("d", "tl", schedule=CHECKS) == 0
