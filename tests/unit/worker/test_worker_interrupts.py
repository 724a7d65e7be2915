"""How the executor ends an activity: cancellation, lost tasks, its deadline, late interrupts.

The interrupt is the one a prefork child uses, SIGUSR1 to our own process;
these tests install the handler billiard installs in pool children (raise
SoftTimeLimitExceeded), so the real asynchronous signal path is exercised.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from swfbridge import Activity, ActivityCancelled, ActivityRegistry, activity
from swfbridge.aws.swf import SwfClient, UnknownResource
from swfbridge.wire.job import ActivityJob
from swfbridge.wire.outcome import Abandoned, Canceled, Completed, Failed
from swfbridge.worker.executor import ActivityExecutor, WorkerConfig
from swfbridge.worker.heartbeat import HeartbeatConfig
from swfbridge.worker.interrupts import Interrupter, StopReason
from tests.support.jobs import make_job

REGISTRY = ActivityRegistry()


@activity("1", registry=REGISTRY)
class Cooperative(Activity):
    def run(self, seconds: float) -> str:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.heartbeat("working")
            time.sleep(0.01)
        return "done"


@activity("1", registry=REGISTRY)
class Sleeper(Activity):
    def run(self, seconds: float) -> str:
        time.sleep(seconds)
        return "slept"


@activity("1", registry=REGISTRY, auto_heartbeat=True)
class LiveSleeper(Activity):
    def run(self, seconds: float) -> str:
        time.sleep(seconds)
        return "slept"


@activity("1", registry=REGISTRY)
class Swallower(Activity):
    """Turns the interrupt into an error of its own."""

    def run(self, seconds: float) -> str:
        try:
            time.sleep(seconds)
        except SoftTimeLimitExceeded as exc:
            raise RuntimeError("cleanup failed") from exc
        return "slept"


class FakeSwf:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls = 0

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        self.calls += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return dict(self.answer)


@pytest.fixture(autouse=True)
def billiard_soft_timeout_handler() -> Iterator[None]:
    def raise_soft_timeout(signum: int, frame: Any) -> None:
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGUSR1, raise_soft_timeout)
    yield
    signal.signal(signal.SIGUSR1, previous)


def _interrupt() -> None:
    os.kill(os.getpid(), signal.SIGUSR1)


def _job(
    name: str,
    seconds: float,
    *,
    deadline_in_s: float | None = None,
    heartbeat_timeout_s: float | None = 0.5,
) -> ActivityJob:
    now = time.time()
    return make_job(
        task_token="token",
        task_list="l",
        activity_name=name,
        input=json.dumps([[seconds], {}]),
        polled_at=now,
        deadline=None if deadline_in_s is None else now + deadline_in_s,
        heartbeat_timeout_s=heartbeat_timeout_s,
    )


def _executor(answer: Any, **config: Any) -> tuple[ActivityExecutor, FakeSwf]:
    swf = FakeSwf(answer)
    client: SwfClient = swf  # type: ignore[assignment]
    worker = WorkerConfig(
        heartbeat=HeartbeatConfig(cancel_grace_s=0.3, min_interval_s=0.05), **config
    )
    return ActivityExecutor(registry=REGISTRY, swf=client, config=worker, interrupt=_interrupt), swf


CANCEL = {"cancelRequested": True}
CLOSED = UnknownResource("RecordActivityTaskHeartbeat", "UnknownResourceFault", "gone")
FINE = {"cancelRequested": False}


def test_a_cooperative_activity_is_canceled_at_its_next_heartbeat_without_an_interrupt() -> None:
    executor, _ = _executor(FINE)
    outcome: list[Any] = []
    thread_done = threading.Event()

    def later() -> None:  # cancellation arrives after the start-of-job beat
        time.sleep(0.2)
        executor.swf.answer = CANCEL  # type: ignore[attr-defined]
        thread_done.set()

    threading.Thread(target=later, daemon=True).start()
    outcome.append(executor.execute(_job("Cooperative", 10)))
    assert isinstance(outcome[0], Canceled)
    assert outcome[0].details == "working"  # the details of the heartbeat that raised


def test_an_activity_stuck_in_sleep_is_interrupted_after_the_grace_and_answered_canceled() -> None:
    executor, _ = _executor(FINE)
    started = time.monotonic()

    def later() -> None:
        time.sleep(0.2)
        executor.swf.answer = CANCEL  # type: ignore[attr-defined]

    threading.Thread(target=later, daemon=True).start()
    outcome = executor.execute(_job("LiveSleeper", 30))
    assert isinstance(outcome, Canceled), outcome
    assert "interrupted" in (outcome.details or "")
    # interval 0.4 s (0.8 × 0.5) + grace 0.3 s, from the cancellation at 0.2 s
    assert time.monotonic() - started < 0.2 + 0.4 + 0.3 + 1.0


def test_a_task_swf_closed_while_queued_is_not_run() -> None:
    executor, swf = _executor(CLOSED)
    outcome = executor.execute(_job("Sleeper", 30))
    assert isinstance(outcome, Abandoned) and "not started" in outcome.why
    assert swf.calls == 1


def test_a_task_cancelled_while_queued_is_canceled_without_running() -> None:
    executor, _ = _executor(CANCEL)
    outcome = executor.execute(_job("Sleeper", 30))
    assert isinstance(outcome, Canceled)
    assert "before the activity started" in (outcome.details or "")


def test_an_activity_whose_task_was_closed_is_interrupted_and_nothing_is_responded() -> None:
    executor, _ = _executor(FINE)

    def later() -> None:
        time.sleep(0.2)
        executor.swf.answer = CLOSED  # type: ignore[attr-defined]

    threading.Thread(target=later, daemon=True).start()
    started = time.monotonic()
    outcome = executor.execute(_job("LiveSleeper", 30))
    assert isinstance(outcome, Abandoned), outcome
    assert time.monotonic() - started < 3


def test_an_activity_running_into_its_deadline_is_interrupted_and_failed_with_that_reason() -> None:
    executor, _ = _executor(FINE, deadline_margin_s=0.5, min_time_left_s=0.1)
    started = time.monotonic()
    outcome = executor.execute(_job("Sleeper", 30, deadline_in_s=2.0, heartbeat_timeout_s=None))
    elapsed = time.monotonic() - started
    assert isinstance(outcome, Failed), outcome
    assert "start-to-close deadline" in outcome.reason
    details = json.loads(outcome.details or "")
    assert details["cause"] == "deadline_passed" and details["stage"] == "running"
    assert 1.4 < elapsed < 1.9  # deadline 2 s minus the 0.5 s margin


def test_an_exception_raised_because_of_the_deadline_interrupt_still_reports_the_deadline() -> None:
    executor, _ = _executor(FINE, deadline_margin_s=0.5, min_time_left_s=0.1)
    outcome = executor.execute(_job("Swallower", 30, deadline_in_s=1.0, heartbeat_timeout_s=None))
    assert isinstance(outcome, Failed) and "deadline" in outcome.reason
    assert "it then raised RuntimeError" in outcome.reason


def test_a_job_with_too_little_time_left_is_not_started() -> None:
    executor, swf = _executor(FINE, deadline_margin_s=0.5, min_time_left_s=1.0)
    outcome = executor.execute(_job("Sleeper", 30, deadline_in_s=1.2))
    assert isinstance(outcome, Failed) and "not started" in outcome.reason
    assert json.loads(outcome.details or "")["stage"] == "queued"
    assert swf.calls == 0


def test_an_interrupt_sent_but_not_yet_arrived_when_run_returns_is_absorbed_by_settle() -> None:
    # Signals arrive asynchronously: model a delivery that lags the send by 50 ms.
    def lagging_interrupt() -> None:
        threading.Timer(0.05, _interrupt).start()

    interrupter = Interrupter(lagging_interrupt, "test")
    interrupter.schedule(StopReason.DEADLINE, 0.0)
    deadline = time.monotonic() + 2
    while interrupter.fired is None and time.monotonic() < deadline:
        time.sleep(0.001)
    # run() "returned" here; the interrupt is still on its way.
    interrupter.settle()  # must not raise, and must wait for the interrupt
    assert interrupter.fired is StopReason.DEADLINE
    time.sleep(0.2)  # nothing arrives afterwards


def test_settling_without_any_interrupt_returns_at_once() -> None:
    interrupter = Interrupter(_interrupt, "test")
    interrupter.schedule(StopReason.DEADLINE, 5.0)
    started = time.monotonic()
    interrupter.settle()
    assert time.monotonic() - started < 0.1
    time.sleep(0.05)
    assert interrupter.fired is None


def test_a_completed_run_is_reported_completed_even_if_cancellation_came_meanwhile() -> None:
    executor, _ = _executor(CANCEL)

    class Quick(Activity):
        def run(self) -> str:
            return "ok"

    registry = ActivityRegistry()
    activity("1", registry=registry)(Quick)
    quick = ActivityExecutor(registry=registry, swf=executor.swf, interrupt=_interrupt)
    job = dataclasses.replace(_job("Quick", 0, heartbeat_timeout_s=None), input="[[], {}]")
    assert quick.execute(job) == Completed('"ok"')


def test_activity_cancelled_raised_by_the_activity_itself_maps_to_canceled() -> None:
    class GiveUp(Activity):
        def run(self) -> None:
            raise ActivityCancelled({"stopped_at": 3})

    registry = ActivityRegistry()
    activity("1", registry=registry)(GiveUp)
    swf: SwfClient = FakeSwf(FINE)  # type: ignore[assignment]
    executor = ActivityExecutor(registry=registry, swf=swf, interrupt=_interrupt)
    job = dataclasses.replace(_job("GiveUp", 0, heartbeat_timeout_s=None), input="[[], {}]")
    assert executor.execute(job) == Canceled('{"stopped_at":3}')
