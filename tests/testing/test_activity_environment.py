"""ActivityEnvironment: an activity run in-process reports what a worker would."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass

import pytest

from swfbridge import JSON, Activity, ActivityCancelled, ActivityFailed, ActivityRegistry, activity
from swfbridge.testing import ActivityEnvironment
from swfbridge.wire.outcome import response_for

REGISTRY = ActivityRegistry()


class Add(Activity):
    def run(self, a: int, b: int) -> int:
        return a + b


class Token(Activity):
    def run(self) -> str:
        return self.token


class AsyncAdd(Activity):
    async def run(self, a: int, b: int) -> int:
        self.heartbeat("starting")
        await asyncio.sleep(0.01)
        self.heartbeat({"done": True})
        return a + b


class Counts(Activity):
    """Heartbeats its step until cancelled (sync)."""

    def run(self) -> int:
        step = 0
        while True:
            step += 1
            self.heartbeat({"step": step})
            time.sleep(0.005)


class AsyncCounts(Activity):
    async def run(self) -> int:
        step = 0
        while True:
            step += 1
            self.heartbeat({"step": step})
            await asyncio.sleep(0.005)


SAW: list[str] = []


@activity("1", heartbeat=5, auto_heartbeat=True, registry=REGISTRY)
class AsyncSleeps(Activity):
    async def run(self) -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            SAW.append("CancelledError")
            raise
        return "slept"


class AsyncDeaf(Activity):
    async def run(self) -> str:
        self.heartbeat("listening")
        while True:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                SAW.append("ignored")


class Raises(Activity):
    def run(self) -> None:
        raise ActivityFailed("card declined", details={"code": 51})


class Huge(Activity):
    def run(self) -> str:
        return "x" * 40_000


@dataclass
class Point:
    x: int
    y: int


class Mirror(Activity):
    typed = True
    wire_format = JSON

    async def run(self, point: Point) -> Point:
        return Point(point.y, point.x)


def test_a_sync_activity_completes_with_the_exact_response_a_worker_sends() -> None:
    report = ActivityEnvironment(token="tok-1").run(Add, "[[1, 2], {}]")

    assert report.status == "completed" and report.value() == 3
    assert report.response is not None
    assert report.response.operation == "respond_activity_task_completed"
    assert report.response.params == {"taskToken": "tok-1", "result": "3"}
    assert report.response == response_for(report.outcome, "tok-1")


def test_the_activity_sees_the_given_token() -> None:
    assert ActivityEnvironment(token="secret-token").run(Token).value() == "secret-token"


def test_an_async_activity_completes_and_every_heartbeat_is_captured_as_passed() -> None:
    report = ActivityEnvironment().run(AsyncAdd, "[[2, 3], {}]")

    assert report.value() == 5
    assert report.heartbeats == ("starting", {"done": True})
    assert report.sent_heartbeats[0] == "starting"


@pytest.mark.parametrize("activity_type", [Counts, AsyncCounts])
def test_cancellation_requested_at_a_chosen_heartbeat_ends_canceled(
    activity_type: type[Activity],
) -> None:
    env = ActivityEnvironment()
    env.on_heartbeat = lambda details: env.request_cancel() if details["step"] == 3 else None
    report = env.run(activity_type)

    assert report.status == "canceled"
    assert report.response is not None
    assert report.response.operation == "respond_activity_task_canceled"
    assert json.loads(report.details or "")["step"] > 3  # progress when it stopped


def test_an_async_activity_stuck_in_asyncio_sleep_gets_cancelled_error() -> None:
    SAW.clear()
    env = ActivityEnvironment(registry=REGISTRY)
    threading.Timer(0.2, env.request_cancel).start()
    report = env.run(AsyncSleeps)

    assert report.status == "canceled"
    assert SAW == ["CancelledError"]


def test_a_coroutine_ignoring_cancellation_is_interrupted_after_the_grace_period() -> None:
    SAW.clear()
    env = ActivityEnvironment(cancel_grace_s=0.2)
    env.on_heartbeat = lambda details: env.request_cancel()
    report = env.run(AsyncDeaf)

    assert report.status == "canceled"
    assert report.details == "interrupted 0.2s after cancellation was requested"
    assert SAW == ["ignored"]


def test_an_async_activity_past_its_deadline_fails_as_a_worker_would() -> None:
    report = ActivityEnvironment(start_to_close_s=1.0).run(AsyncSleeps)

    assert report.status == "failed" and report.cause == "deadline_passed"
    assert report.reason is not None and "start-to-close deadline" in report.reason


def test_a_closed_task_makes_heartbeat_return_false_and_nothing_is_sent() -> None:
    env = ActivityEnvironment()
    env.close_task()
    report = env.run(AsyncAdd, "[[2, 3], {}]")

    assert report.status == "abandoned" and report.response is None


def test_failures_carry_the_reason_and_details_swf_gets() -> None:
    report = ActivityEnvironment().run(Raises)

    assert report.status == "failed"
    assert (report.reason, report.details) == ("card declined", '{"code":51}')
    with pytest.raises(AssertionError, match="did not complete: failed card declined"):
        report.value()


def test_bad_input_fails_with_the_bridge_cause() -> None:
    report = ActivityEnvironment().run(Add, "[[1], {}")

    assert report.cause == "input_undecodable"


def test_a_result_over_swfs_limit_fails_as_on_a_worker_without_offload() -> None:
    assert ActivityEnvironment().run(Huge).cause == "result_too_large"


def test_typed_values_convert_in_and_out_and_bad_ones_name_the_parameter() -> None:
    env = ActivityEnvironment()

    assert env.run(Mirror, '{"x": 1, "y": 2}').value() == {"x": 2, "y": 1}
    bad = env.run(Mirror, '{"x": 1}')
    assert bad.cause == "input_undecodable"
    assert "parameter 'point': missing field 'y' of Point" in (bad.reason or "")


def test_each_run_is_a_fresh_task() -> None:
    env = ActivityEnvironment()
    env.request_cancel()
    env.on_heartbeat = None

    assert env.run(AsyncAdd, "[[1, 1], {}]").status == "canceled"
    assert env.run(AsyncAdd, "[[1, 1], {}]").status == "completed"


def test_activity_cancelled_raised_by_the_activity_is_reported_canceled() -> None:
    class GivesUp(Activity):
        async def run(self) -> None:
            raise ActivityCancelled({"why": "asked"})

    report = ActivityEnvironment().run(GivesUp)

    assert report.status == "canceled" and report.details == '{"why":"asked"}'
