"""The Heartbeater's pacing, coalescing and error handling, against a fake SWF client."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from swfbridge.aws.swf import ServiceUnavailable, SwfClient, Throttled, UnknownResource
from swfbridge.errors import ConfigurationError
from swfbridge.wire.limits import MAX_HEARTBEAT_DETAILS, TRUNCATION_MARKER
from swfbridge.worker.heartbeat import (
    HEARTBEAT_FRACTION,
    HeartbeatConfig,
    Heartbeater,
    retry_delay_s,
)


class FakeSwf:
    """Records heartbeat calls; answers from a script of results or exceptions."""

    def __init__(self, answers: list[Any] | None = None) -> None:
        self.calls: list[tuple[float, dict[str, Any]]] = []
        self.answers = list(answers or [])
        self.lock = threading.Lock()

    def call(self, operation: str, *, retry: bool = True, **params: Any) -> dict[str, Any]:
        assert operation == "record_activity_task_heartbeat"
        assert retry is False  # a heartbeat is never retried in place: the next beat is
        with self.lock:
            self.calls.append((time.monotonic(), params))
            answer = self.answers.pop(0) if self.answers else {"cancelRequested": False}
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer)

    def details(self) -> list[str | None]:
        with self.lock:
            return [params.get("details") for _, params in self.calls]

    def count(self) -> int:
        with self.lock:
            return len(self.calls)


def _heartbeater(swf: FakeSwf, interval_s: float, **kwargs: Any) -> Heartbeater:
    client: SwfClient = swf  # type: ignore[assignment]
    return Heartbeater(swf=client, task_token="token", interval_s=interval_s, **kwargs)


def _wait_until(predicate: Any, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_interval_is_four_fifths_of_the_heartbeat_timeout_within_the_cap_and_floor() -> None:
    config = HeartbeatConfig(max_interval_s=30, min_interval_s=0.2)
    assert config.interval_for(5) == pytest.approx(4)
    assert config.interval_for(600) == 30
    assert config.interval_for(0.1) == 0.2
    assert config.interval_for(None) == 30


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_interval_s": 0},
        {"max_interval_s": float("nan")},
        {"min_interval_s": -1},
        {"cancel_grace_s": -0.5},
        {"max_interval_s": 1, "min_interval_s": 2},
        {"max_interval_s": True},
    ],
)
def test_heartbeat_config_rejects_nonsense_with_a_clear_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"seconds|above"):
        HeartbeatConfig(**kwargs)


def test_many_records_in_a_tight_loop_become_one_send_per_interval_carrying_the_latest() -> None:
    swf = FakeSwf()
    beater = _heartbeater(swf, interval_s=0.3)
    beater.start()
    try:
        end = time.monotonic() + 1.0
        n = 0
        while time.monotonic() < end:
            n += 1
            beater.record({"n": n})
        sent_while_looping = swf.count()
        beater.record({"n": "last"})
        _wait_until(lambda: swf.count() > sent_while_looping)
    finally:
        beater.stop()
    # Sends at t≈0 (first record), 0.3, 0.6, 0.9: four (five with scheduling jitter).
    assert 3 <= sent_while_looping <= 5, swf.calls
    assert n > 1000
    sent = [json.loads(d or "") for d in swf.details()]
    numbers = [d["n"] for d in sent[:-1]]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert sent[-1] == {"n": "last"}  # what is sent is the latest record, not a backlog
    gaps = [b[0] - a[0] for a, b in zip(swf.calls, swf.calls[1:], strict=False)]
    assert all(gap >= 0.3 - 0.02 for gap in gaps), gaps


def test_nothing_is_sent_without_news_unless_liveness_is_on() -> None:
    quiet, live = FakeSwf(), FakeSwf()
    beaters = [
        _heartbeater(quiet, interval_s=0.1),
        _heartbeater(live, interval_s=0.1, liveness=True),
    ]
    for beater in beaters:
        beater.start()
    time.sleep(0.45)
    for beater in beaters:
        beater.stop()
    assert quiet.count() == 0
    assert 3 <= live.count() <= 6
    assert live.details() == [None] * live.count()


def test_details_are_strings_as_is_json_otherwise_and_clipped_with_a_marker() -> None:
    swf = FakeSwf()
    beater = _heartbeater(swf, interval_s=0.05)
    beater.start()
    try:
        for details in ("50%", {"done": 3, "of": 10}, [1, "two"], "x" * 5000):
            count = swf.count()
            beater.record(details)
            _wait_until(lambda c=count: swf.count() > c)
    finally:
        beater.stop()
    sent = swf.details()
    assert sent[0] == "50%"
    assert json.loads(sent[1] or "") == {"done": 3, "of": 10}
    assert json.loads(sent[2] or "") == [1, "two"]
    clipped = sent[3] or ""
    assert len(clipped) == MAX_HEARTBEAT_DETAILS
    assert clipped.endswith(TRUNCATION_MARKER) and clipped.startswith("xxx")


def test_cancel_requested_sets_the_flag_calls_back_once_and_ends_beating() -> None:
    swf = FakeSwf([{"cancelRequested": True}])
    stops: list[str] = []
    beater = _heartbeater(
        swf, interval_s=0.05, liveness=True, on_stop_requested=lambda: stops.append("stop")
    )
    beater.start()
    _wait_until(lambda: beater.cancel_requested)
    time.sleep(0.2)
    beater.stop()
    assert stops == ["stop"]
    assert swf.count() == 1
    assert not beater.task_closed


def test_unknown_resource_marks_the_task_closed_and_ends_beating() -> None:
    swf = FakeSwf([UnknownResource("RecordActivityTaskHeartbeat", "UnknownResourceFault", "")])
    stops: list[str] = []
    beater = _heartbeater(
        swf, interval_s=0.05, liveness=True, on_stop_requested=lambda: stops.append("stop")
    )
    beater.start()
    _wait_until(lambda: beater.task_closed)
    time.sleep(0.2)
    beater.stop()
    assert stops == ["stop"] and swf.count() == 1 and not beater.cancel_requested


def test_failed_heartbeats_are_retried_sooner_than_the_interval_and_never_raise() -> None:
    swf = FakeSwf(
        [
            Throttled("RecordActivityTaskHeartbeat", "ThrottlingException", "slow down"),
            ServiceUnavailable("RecordActivityTaskHeartbeat", "InternalFailure", "boom"),
            RuntimeError("a bug in a transport"),
        ]
    )
    beater = _heartbeater(swf, interval_s=0.4)
    beater.start()
    try:
        beater.record("progress")
        _wait_until(lambda: swf.count() >= 4)
    finally:
        beater.stop()
    # Each failed send is retried with the same details, 0.025 s apart.
    assert swf.details()[:4] == ["progress"] * 4
    times = [t for t, _ in swf.calls[:4]]
    assert times[1] - times[0] < 0.4 - 0.05
    assert not beater.task_closed and not beater.cancel_requested


def test_a_retry_sends_newer_details_recorded_after_the_failure() -> None:
    swf = FakeSwf([Throttled("RecordActivityTaskHeartbeat", "ThrottlingException", "")])
    beater = _heartbeater(swf, interval_s=0.4)
    beater.start()
    try:
        beater.record("old")
        _wait_until(lambda: swf.count() >= 1)
        beater.record("new")
        _wait_until(lambda: swf.count() >= 2)
    finally:
        beater.stop()
    assert swf.details()[:2] == ["old", "new"]


def test_a_failing_stop_callback_does_not_break_the_heartbeater() -> None:
    swf = FakeSwf([{"cancelRequested": True}])

    def explode() -> None:
        raise RuntimeError("callback bug")

    beater = _heartbeater(swf, interval_s=0.05, liveness=True, on_stop_requested=explode)
    beater.start()
    _wait_until(lambda: beater.cancel_requested)
    beater.stop()


def test_beat_now_sends_synchronously_and_the_thread_waits_a_full_interval_after_it() -> None:
    swf = FakeSwf()
    beater = _heartbeater(swf, interval_s=0.3, liveness=True)
    beater.beat_now()
    assert swf.count() == 1
    beater.start()
    time.sleep(0.2)
    assert swf.count() == 1
    _wait_until(lambda: swf.count() == 2)
    beater.stop()


def test_beat_now_learns_that_the_task_is_already_closed() -> None:
    swf = FakeSwf([UnknownResource("RecordActivityTaskHeartbeat", "UnknownResourceFault", "")])
    beater = _heartbeater(swf, interval_s=0.3)
    beater.beat_now()
    assert beater.task_closed


def test_a_job_that_never_reports_progress_starts_no_heartbeat_thread() -> None:
    def beating() -> int:
        return sum(t.name == "swfbridge-heartbeat" for t in threading.enumerate())

    before = beating()
    quiet = _heartbeater(FakeSwf(), interval_s=10)
    quiet.start()
    assert beating() == before
    quiet.record("news")
    assert beating() == before + 1
    quiet.stop()


def test_seven_retries_of_a_failed_paced_beat_land_before_the_heartbeat_timeout() -> None:
    timeout_s = 5.0
    interval_s = HEARTBEAT_FRACTION * timeout_s  # the pace for a 5 s heartbeat timeout
    sent, at = [], interval_s
    for failures in range(1, 8):
        at += retry_delay_s(interval_s, failures)
        sent.append(at)
    assert sent == sorted(sent) and sent[-1] < timeout_s
    assert retry_delay_s(interval_s, 20) == interval_s  # then no faster than the pace
