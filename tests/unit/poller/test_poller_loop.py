"""The poll loop with fakes for SWF, the broker and the state store."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from swfbridge.aws.retry import Backoff
from swfbridge.poller.dispatch import PublishError
from swfbridge.poller.loop import Poller, PollerConfig
from swfbridge.poller.timeouts import TaskTimeouts
from swfbridge.state.store import StateUnavailable
from swfbridge.wire.job import ActivityJob

FAST = Backoff(base_s=0.01, cap_s=0.02, max_attempts=None)


def task(n: int) -> dict[str, Any]:
    return {
        "taskToken": f"token-{n}",
        "activityId": f"a{n}",
        "startedEventId": n,
        "activityType": {"name": "Add", "version": "1"},
        "workflowExecution": {"workflowId": "wf", "runId": "run"},
        "input": "[[1], {}]",
    }


class FakeSwf:
    """Hands out queued poll responses; records every respond call."""

    def __init__(
        self, tasks: list[dict[str, Any]] | None = None, *, poll_gate: threading.Event | None = None
    ) -> None:
        self.tasks = list(tasks or [])
        self.polls = 0
        self.responses: list[tuple[str, dict[str, Any]]] = []
        self.poll_gate = poll_gate
        self.polling = threading.Event()
        self.lock = threading.Lock()

    def call(
        self, operation: str, *, retry: bool = True, stop: Any = None, **params: Any
    ) -> dict[str, Any]:
        if operation == "poll_for_activity_task":
            with self.lock:
                self.polls += 1
            self.polling.set()
            if self.poll_gate is not None:
                self.poll_gate.wait(5)
            with self.lock:
                if self.tasks:
                    return self.tasks.pop(0)
            time.sleep(0.01)
            return {}
        with self.lock:
            self.responses.append((operation, params))
        return {}

    def failures(self) -> list[str]:
        return [p["reason"] for op, p in self.responses if op == "respond_activity_task_failed"]


class FakeDispatcher:
    def __init__(self) -> None:
        self.up = True
        self.publish_fails = False
        self.published: list[ActivityJob] = []
        self.checks = 0

    def check(self) -> None:
        self.checks += 1
        if not self.up:
            raise PublishError("ConnectionError: broker down")

    def publish(self, job: ActivityJob) -> None:
        if self.publish_fails:
            raise PublishError("ConnectionError: broker went away")
        self.published.append(job)


class FakeState:
    """In-memory slots: the same contract as BridgeState, no expiry."""

    def __init__(self) -> None:
        self.members: set[str] = set()
        self.n = 0
        self.up = True
        self.lock = threading.Lock()
        self.freed = threading.Condition(self.lock)
        self.pings = 0
        self.reserves = 0
        self.reserves_ahead = 0
        self.refused = 0  # reserve() answers None (reserve_on's included)
        self.refused_ahead = 0

    def ping(self) -> None:
        self.pings += 1
        if not self.up:
            raise StateUnavailable("down")

    def reserve(self, domain: str, task_list: str, *, limit: int, hold_s: float) -> str | None:
        with self.lock:
            self.reserves += 1
            if len(self.members) >= limit:
                self.refused += 1
                return None
            self.n += 1
            self.members.add(f"poll:{self.n}")
            return f"poll:{self.n}"

    def reserve_on(
        self, pipeline: _NoRedis, domain: str, task_list: str, *, limit: int, hold_s: float
    ) -> str:
        # At once (the fake has no round trips); the reply goes with the pipeline's.
        self.reserves_ahead += 1
        taken = self.reserve(domain, task_list, limit=limit, hold_s=hold_s)
        if not taken:
            self.refused_ahead += 1
        pipeline.replies.append(1 if taken else 0)
        return taken or "poll:not-taken"

    def bind(
        self,
        domain: str,
        task_list: str,
        placeholder: str,
        *,
        attempt_id: str,
        deadline: float | None,
        pipeline: Any = None,
    ) -> None:
        with self.lock:  # at once, pipeline or not: the fake has no round trips
            self.members.discard(placeholder)
            self.members.add(attempt_id)

    def release(self, domain: str, task_list: str, member: str) -> None:
        with self.lock:
            if member in self.members:
                self.members.discard(member)
                self.freed.notify()

    def wait_for_free(self, domain: str, task_list: str, *, timeout_s: float) -> bool:
        with self.lock:
            return self.freed.wait(timeout_s)

    def in_flight(self, domain: str, task_list: str) -> int:
        return len(self.members)

    def claimed(self, attempt_id: str) -> bool:
        return False

    @property
    def client(self) -> Any:
        # The shared record of queued jobs needs Redis (tests/integration/
        # test_shared_keepalive.py, test_lost_job_recovery.py): writes go nowhere here.
        return _NoRedis()

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    def expiry_for(self, deadline: float | None) -> float:
        return (deadline or time.time()) + 15

    def beats_key(self, domain: str, task_list: str) -> str:
        return "beats"

    def checks_key(self, domain: str, task_list: str) -> str:
        return "checks"

    def queued_job_key(self, attempt_id: str) -> str:
        return f"job:{attempt_id}"


class _NoRedis:
    """A Redis client whose pipelines accept the queued-job writes and drop them;
    any read says the store is down."""

    def __init__(self) -> None:
        self.replies: list[Any] = []

    def pipeline(self, transaction: bool = True) -> _NoRedis:
        return _NoRedis()

    def set(self, *args: Any, **kwargs: Any) -> None:
        pass

    def zadd(self, *args: Any, **kwargs: Any) -> None:
        pass

    def execute(self) -> list[Any]:
        return self.replies

    def __getattr__(self, name: str) -> Any:
        raise StateUnavailable("no Redis in this fake")


class FixedTimeouts:
    counts: dict[str, int] = {}

    def for_task(self, response: dict[str, Any]) -> TaskTimeouts:
        return TaskTimeouts(start_to_close_s=60.0, heartbeat_s=None)


def make_poller(
    swf: FakeSwf, dispatcher: FakeDispatcher, state: FakeState | None = None, **config: Any
) -> Poller:
    return Poller(
        config=PollerConfig(
            domain="d",
            task_list="tl",
            identity="test",
            error_backoff=FAST,
            broker_backoff=FAST,
            slot_check_interval_s=0.01,
            **config,
        ),
        swf=swf,  # type: ignore[arg-type]
        dispatcher=dispatcher,
        timeouts=FixedTimeouts(),  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
    )


def wait_until(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_poller_stops_polling_when_every_slot_is_taken_and_resumes_when_one_is_freed() -> None:
    swf = FakeSwf([task(1), task(2), task(3)])
    dispatcher, state = FakeDispatcher(), FakeState()
    poller = make_poller(swf, dispatcher, state, max_in_flight=2, pollers=2)
    poller.start()
    try:
        wait_until(lambda: len(dispatcher.published) == 2)
        polls = swf.polls
        time.sleep(0.2)
        assert swf.polls == polls  # full: no poll at all, the third task stays in SWF
        assert len(dispatcher.published) == 2
        assert poller.counts["slot_waits"] >= 1
        state.release("d", "tl", dispatcher.published[0].attempt_id)  # a job finished
        wait_until(lambda: len(dispatcher.published) == 3)
    finally:
        poller.stop()
        assert poller.join(5)


def test_empty_polls_give_their_slot_back() -> None:
    swf, dispatcher, state = FakeSwf(), FakeDispatcher(), FakeState()
    poller = make_poller(swf, dispatcher, state, max_in_flight=1)
    poller.start()
    try:
        wait_until(lambda: swf.polls >= 5)
    finally:
        poller.stop()
        assert poller.join(5)
    assert state.members == set()


def test_a_busy_poller_takes_the_next_polls_slot_in_the_round_trip_recording_the_job() -> None:
    swf = FakeSwf([task(n) for n in range(1, 21)])
    dispatcher, state = FakeDispatcher(), FakeState()
    poller = make_poller(swf, dispatcher, state, max_in_flight=100)
    poller.start()
    try:
        wait_until(lambda: len(dispatcher.published) == 20)
    finally:
        poller.stop()
        assert poller.join(5)
    # One reservation of its own, for the first poll; every later poll's slot
    # came with the record of the job before it.
    assert state.reserves - state.reserves_ahead == 1
    assert poller.counts["polls"] > 20
    assert len(state.members) == 20  # the jobs' slots (no worker frees them here); none left over


def test_a_slot_taken_ahead_is_given_back_when_the_publish_fails() -> None:
    class BrokerDiesAtPublish(FakeDispatcher):
        def publish(self, job: ActivityJob) -> None:
            self.up = False  # and stays down: the poller backs off, holding no slot
            raise PublishError("ConnectionError: broker went away")

    swf, dispatcher, state = FakeSwf([task(1)]), BrokerDiesAtPublish(), FakeState()
    poller = make_poller(swf, dispatcher, state, max_in_flight=4)
    poller.start()
    try:
        wait_until(lambda: poller.counts.get("broker_unavailable", 0) >= 3)
        assert len(swf.failures()) == 1
        assert state.reserves_ahead >= 1
        assert state.members == set()
    finally:
        poller.stop()
        assert poller.join(5)


def test_a_slot_taken_ahead_is_given_back_when_the_broker_check_breaks() -> None:
    class CheckBreaksAfterAPublish(FakeDispatcher):
        def check(self) -> None:
            if self.published:
                raise RuntimeError("a bug in the check")

    swf, dispatcher, state = FakeSwf([task(1)]), CheckBreaksAfterAPublish(), FakeState()
    poller = make_poller(swf, dispatcher, state, max_in_flight=4, readiness_fresh_s=0)
    poller.start()
    try:
        wait_until(lambda: poller.counts.get("poll_errors", 0) >= 3)
        assert state.reserves_ahead >= 1
        # The job's slot (no worker frees it here), and no placeholder.
        assert state.members == {dispatcher.published[0].attempt_id}
    finally:
        poller.stop()
        assert poller.join(5)


def test_poller_does_not_poll_while_the_broker_is_down_and_resumes_by_itself() -> None:
    swf, dispatcher = FakeSwf([task(1)]), FakeDispatcher()
    dispatcher.up = False
    poller = make_poller(swf, dispatcher)
    poller.start()
    try:
        wait_until(lambda: poller.counts.get("broker_unavailable", 0) >= 3)
        assert swf.polls == 0
        dispatcher.up = True
        wait_until(lambda: len(dispatcher.published) == 1)
    finally:
        poller.stop()
        assert poller.join(5)


def test_poller_does_not_poll_while_the_state_store_is_down() -> None:
    swf, dispatcher, state = FakeSwf([task(1)]), FakeDispatcher(), FakeState()
    state.up = False
    poller = make_poller(swf, dispatcher, state, max_in_flight=4)
    poller.start()
    try:
        wait_until(lambda: poller.counts.get("state_unavailable", 0) >= 3)
        assert swf.polls == 0
        state.up = True
        wait_until(lambda: len(dispatcher.published) == 1)
    finally:
        poller.stop()
        assert poller.join(5)


def test_a_task_polled_when_publishing_fails_is_failed_at_once_with_a_reason_saying_so() -> None:
    swf, dispatcher, state = FakeSwf(), FakeDispatcher(), FakeState()
    dispatcher.publish_fails = True
    poller = make_poller(swf, dispatcher, state, max_in_flight=1)
    poller.handle_task(task(7), polled_at=time.time())
    [reason] = swf.failures()
    assert reason.startswith("swfbridge: could not enqueue the job on the Celery broker")
    assert "broker went away" in reason
    details = json.loads(swf.responses[0][1]["details"])
    assert details["cause"] == "enqueue_failed"
    assert poller.counts["failed_by_bridge"] == 1


def test_graceful_stop_lets_the_poll_under_way_finish_and_dispatches_its_task() -> None:
    gate = threading.Event()
    swf, dispatcher = FakeSwf([task(1)], poll_gate=gate), FakeDispatcher()
    poller = make_poller(swf, dispatcher)
    poller.start()
    assert swf.polling.wait(5)
    poller.stop()
    gate.set()  # SWF answers the poll after the stop
    assert poller.join(5)
    assert [j.activity_id for j in dispatcher.published] == ["a1"]
    assert swf.polls == 1
    assert swf.failures() == []


def test_abort_fails_every_task_still_held_with_poller_shutting_down() -> None:
    publishing = threading.Event()
    release = threading.Event()

    class SlowDispatcher(FakeDispatcher):
        def publish(self, job: ActivityJob) -> None:
            publishing.set()
            release.wait(5)
            super().publish(job)

    swf, dispatcher = FakeSwf([task(1)]), SlowDispatcher()
    poller = make_poller(swf, dispatcher)
    poller.start()
    assert publishing.wait(5)
    assert poller.counts["held"] == 1
    assert poller.abort() == 1
    [reason] = swf.failures()
    assert reason == "swfbridge: poller shutting down before the task could be enqueued"
    assert poller.counts["abandoned_at_shutdown"] == 1
    release.set()
    assert poller.join(5)


def test_max_in_flight_without_a_state_store_is_refused() -> None:
    with pytest.raises(ValueError, match="state store"):
        make_poller(FakeSwf(), FakeDispatcher(), None, max_in_flight=3)


@pytest.mark.parametrize("error", ["unknown_domain", "bad_credentials"])
def test_polling_stops_on_a_missing_domain_or_bad_credentials_instead_of_retrying(
    error: str,
) -> None:
    from swfbridge.aws.swf import Misconfigured, UnknownResource

    class Refusing(FakeSwf):
        def call(self, operation: str, **params: Any) -> dict[str, Any]:
            if operation == "poll_for_activity_task":
                with self.lock:
                    self.polls += 1
                if error == "unknown_domain":
                    raise UnknownResource(operation, "UnknownResourceFault", "no domain d")
                raise Misconfigured(operation, "UnrecognizedClientException", "bad key")
            return super().call(operation, **params)

    swf = Refusing()
    poller = make_poller(swf, FakeDispatcher())
    poller.start()
    assert poller.join(timeout_s=10)
    assert swf.polls == 1
    assert poller.fatal_error is not None


def test_a_busy_poller_takes_its_last_publish_as_the_broker_check() -> None:
    swf = FakeSwf([task(n) for n in range(1, 51)])
    dispatcher, state = FakeDispatcher(), FakeState()
    poller = make_poller(swf, dispatcher, state, max_in_flight=100, readiness_fresh_s=60)
    poller.start()
    try:
        wait_until(lambda: len(dispatcher.published) == 50)
    finally:
        poller.stop()
        assert poller.join(5)
    # Asked once, before the first poll; every later poll followed a publish and
    # a slot taken within the last minute.
    assert dispatcher.checks == 1
    assert state.pings == 1


def test_an_idle_poller_asks_the_broker_before_each_poll() -> None:
    swf, dispatcher, state = FakeSwf(), FakeDispatcher(), FakeState()
    poller = make_poller(swf, dispatcher, state, readiness_fresh_s=0)
    poller.start()
    try:
        wait_until(lambda: swf.polls >= 5)
    finally:
        poller.stop()
        assert poller.join(5)
    assert dispatcher.checks >= 5 and state.pings >= 5


def test_after_a_failed_publish_the_next_poll_waits_for_the_broker() -> None:
    class DiesAtFirstPublish(FakeDispatcher):
        died = False

        def publish(self, job: ActivityJob) -> None:
            if not self.died:
                self.died, self.up = True, False  # the broker went away under this publish
                raise PublishError("ConnectionError: broker went away")
            super().publish(job)

    swf = FakeSwf([task(1), task(2)])
    dispatcher = DiesAtFirstPublish()
    poller = make_poller(swf, dispatcher, readiness_fresh_s=60)
    poller.start()
    try:
        wait_until(lambda: poller.counts.get("broker_unavailable", 0) >= 3)
        assert len(swf.failures()) == 1  # the task of the failed publish, failed at once
        assert swf.polls == 1  # and no poll since, although the last check was fresh
        dispatcher.up = True
        wait_until(lambda: len(dispatcher.published) == 1)
    finally:
        poller.stop()
        assert poller.join(5)
