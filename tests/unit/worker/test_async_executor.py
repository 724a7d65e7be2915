"""ActivityExecutor and ``async def run``: the event loop it runs coroutines on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time

from swfbridge import Activity, ActivityRegistry, activity
from swfbridge.wire.job import ActivityJob
from swfbridge.wire.outcome import Completed
from swfbridge.worker.executor import ActivityExecutor
from tests.support.fakes import FakeBoto, fake_swf
from tests.support.jobs import make_job

registry = ActivityRegistry()
BARRIER = threading.Barrier(2, timeout=30)


@activity("1", registry=registry)
class LoopId(Activity):
    async def run(self) -> int:
        await asyncio.sleep(0)
        return id(asyncio.get_running_loop())


@activity("1", registry=registry)
class Together(Activity):
    """Holds its loop until the other thread's job runs too."""

    async def run(self) -> int:
        await asyncio.sleep(0)
        BARRIER.wait()
        return id(asyncio.get_running_loop())


def _job(name: str) -> ActivityJob:
    now = time.time()
    return make_job(task_list="l", activity_name=name, polled_at=now, deadline=now + 60)


def _loop_of(outcome: object) -> int:
    assert isinstance(outcome, Completed), outcome
    return int(json.loads(outcome.result or ""))


def test_successive_async_jobs_of_one_thread_reuse_one_event_loop() -> None:
    executor = ActivityExecutor(registry=registry, swf=fake_swf(FakeBoto()))
    try:
        loops = {_loop_of(executor.execute(_job("LoopId"))) for _ in range(3)}
    finally:
        executor.close()

    assert len(loops) == 1


def test_async_jobs_in_two_threads_of_one_executor_run_at_once_on_their_own_loops() -> None:
    executor = ActivityExecutor(registry=registry, swf=fake_swf(FakeBoto()))
    loops: list[int] = []

    def work() -> None:
        try:
            loops.append(_loop_of(executor.execute(_job("Together"))))
        finally:
            executor.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(loops) == 2 and loops[0] != loops[1]


def test_a_stop_requested_before_the_coroutine_starts_cancels_it_as_it_is_created() -> None:
    from swfbridge.worker.interrupts import CoroutineCanceller, StopReason

    started: list[bool] = []

    async def work() -> None:
        started.append(True)

    loop = asyncio.new_event_loop()
    try:
        canceller = CoroutineCanceller(loop)
        canceller.cancel(StopReason.CANCELLED)  # from the heartbeat thread, early
        task = loop.create_task(work())
        canceller.attach(task)
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
    finally:
        loop.close()

    assert task.cancelled() and started == []
    assert canceller.reason is StopReason.CANCELLED
