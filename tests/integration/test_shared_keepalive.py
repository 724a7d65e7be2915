"""The shared keepalive list in a real redis-server (swfbridge.poller.keepalive).

SWF is a fake here: what is checked is who beats which queued job, and when.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from swfbridge.poller.keepalive import KeepaliveConfig, QueuedHeartbeats
from swfbridge.state.queued import QueuedJobs
from swfbridge.state.store import BridgeState, StateConfig
from swfbridge.wire.job import ActivityJob
from tests.support.jobs import make_job

HEARTBEAT_S = 1.0


class BeatCounter:
    """Records every heartbeat, by task token."""

    def __init__(self) -> None:
        self.beats: Counter[str] = Counter()
        self.lock = threading.Lock()

    def call(self, operation: str, *, retry: bool, taskToken: str) -> dict[str, Any]:
        with self.lock:
            self.beats[taskToken] += 1
        return {"cancelRequested": False}


def _job(n: int) -> ActivityJob:
    now = time.time()
    return make_job(
        task_token=f"token-{n}",
        activity_id=f"a{n}",
        started_event_id=n,
        input="{}",
        polled_at=now,
        deadline=now + 60,
        heartbeat_timeout_s=HEARTBEAT_S,
    )


def _keeper(state: BridgeState, swf: BeatCounter) -> QueuedHeartbeats:
    return QueuedHeartbeats(
        swf=swf,  # type: ignore[arg-type]
        state=state,
        domain="d",
        task_list="tl",
        config=KeepaliveConfig(scan_s=0.1, lease_s=0.2),
    )


def _state(redis_url: str) -> BridgeState:
    return BridgeState(config=StateConfig(url=redis_url, key_prefix=f"t-{uuid.uuid4().hex}"))


def test_a_poller_that_stops_leaves_its_queued_jobs_to_another(redis_url: str) -> None:
    state, swf = _state(redis_url), BeatCounter()
    dying = _keeper(state, swf)
    jobs = [_job(n) for n in range(5)]
    for job in jobs:
        dying.track(job)
    dying.stop()  # as if killed: it never beats them
    survivor = _keeper(state, swf)
    survivor.start()  # tracks nothing itself
    try:
        time.sleep(3 * HEARTBEAT_S)
    finally:
        survivor.stop()
    assert all(swf.beats[job.task_token] >= 2 for job in jobs), swf.beats


def test_two_pollers_beat_each_queued_job_once_per_interval_not_twice(redis_url: str) -> None:
    state, swf = _state(redis_url), BeatCounter()
    keepers = [_keeper(state, swf), _keeper(state, swf)]
    job = _job(1)
    keepers[0].track(job)
    keepers[1].start()
    try:
        time.sleep(2.0)  # five intervals of 0.4 s
    finally:
        for keeper in keepers:
            keeper.stop()
    # One beat per interval from the pair (6 at most with scheduling slack); two
    # unshared keepers would make about 10.
    assert 0 < swf.beats[job.task_token] <= 6, swf.beats


def test_a_claimed_job_leaves_the_list(redis_url: str) -> None:
    state, swf = _state(redis_url), BeatCounter()
    keeper = _keeper(state, swf)
    job = _job(1)
    keeper.track(job)
    assert keeper.tracked == 1
    assert state.claim(job.attempt_id, deadline=job.deadline, owner="worker")
    try:
        deadline = time.monotonic() + 5
        while keeper.tracked and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        keeper.stop()
    assert keeper.tracked == 0
    assert swf.beats[job.task_token] == 0


def _counting_leases(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Times of the keepers' looks at the shared list."""
    looks: list[float] = []
    lease = QueuedJobs.lease

    def counting(self: QueuedJobs, *args: Any, **kwargs: Any) -> list[str]:
        looks.append(time.monotonic())
        return lease(self, *args, **kwargs)

    monkeypatch.setattr(QueuedJobs, "lease", counting)
    return looks


def _idle_keeper(state: BridgeState, swf: BeatCounter, looks: list[float]) -> QueuedHeartbeats:
    """A started keeper that looks at the list every 10 s, after its first look."""
    keeper = QueuedHeartbeats(
        swf=swf,  # type: ignore[arg-type]
        state=state,
        domain="d",
        task_list="tl",
        config=KeepaliveConfig(scan_s=10.0, lease_s=0.2),
    )
    keeper.start()
    deadline = time.monotonic() + 5
    while not looks and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # past the first look, waiting for the next
    return keeper


def test_jobs_recorded_with_no_beat_due_before_the_next_look_do_not_wake_the_keeper(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = _counting_leases(monkeypatch)
    keeper = _idle_keeper(_state(redis_url), BeatCounter(), looks)
    try:
        first = len(looks)
        for _ in range(20):
            keeper.recorded(None)  # no heartbeat timeout
            keeper.recorded(time.time() + 60)  # due after the next look
        time.sleep(0.3)
        assert len(looks) == first
    finally:
        keeper.stop()


def test_a_job_recorded_with_a_beat_due_before_the_next_look_wakes_the_keeper(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks = _counting_leases(monkeypatch)
    state, swf = _state(redis_url), BeatCounter()
    keeper = _idle_keeper(state, swf, looks)
    try:
        job = _job(1)
        due = time.time()
        QueuedJobs(state).record(job, now=due, beat_due=due, check_due=None)
        keeper.recorded(due)
        deadline = time.monotonic() + 5  # the next look without a wake-up: in 10 s
        while not swf.beats[job.task_token] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert swf.beats[job.task_token] >= 1
    finally:
        keeper.stop()
