"""The worker's one timer thread per process."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from swfbridge.worker import timers as timers_module
from swfbridge.worker.timers import Timers


def _timer_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "swfbridge-timers")


def test_callbacks_run_in_the_order_they_come_due() -> None:
    timers = Timers()
    ran: list[int] = []
    done = threading.Event()
    timers.call_later(0.06, lambda: (ran.append(3), done.set()))
    timers.call_later(0.02, ran.append, 1)
    timers.call_later(0.04, ran.append, 2)
    assert done.wait(10)
    assert ran == [1, 2, 3]


def test_a_cancelled_callback_never_runs() -> None:
    timers = Timers()
    ran: list[str] = []
    done = threading.Event()
    handle = timers.call_later(0.01, ran.append, "cancelled")
    handle.cancel()
    timers.call_later(0.05, lambda: (ran.append("later"), done.set()))
    assert done.wait(10)
    assert ran == ["later"]


def test_many_schedules_share_one_thread() -> None:
    before = _timer_threads()
    timers = Timers()
    handles = [timers.call_later(3600, print) for _ in range(200)]
    assert _timer_threads() == before + 1
    for handle in handles:
        handle.cancel()


def test_cancelled_long_deadlines_do_not_pile_up() -> None:
    timers = Timers()
    for _ in range(10_000):
        timers.call_later(3600, print).cancel()
    assert timers.pending == 0
    assert len(timers._heap) < 200  # compacted as cancellations pile up


def test_jobs_whose_timers_are_cancelled_do_not_wake_the_thread_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wakeups: list[int] = []

    class Counting(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            woken = super().wait(timeout)
            wakeups.append(1)
            return woken

    monkeypatch.setattr(timers_module.threading, "Condition", Counting)
    timers = Timers()
    for _ in range(30):  # each job: its deadline timer, cancelled when run returns
        timers.call_later(3600, print).cancel()
        time.sleep(0.005)  # the thread gets to run between two jobs, as in a worker
    assert len(wakeups) <= 1  # the first schedule's, at most


def test_a_callback_due_before_the_cancelled_ones_still_runs_on_time() -> None:
    timers = Timers()
    for _ in range(3):
        timers.call_later(3600, print).cancel()
        time.sleep(0.005)
    done = threading.Event()
    timers.call_later(0.01, done.set)  # the thread sleeps until the cancelled ones are due
    assert done.wait(10)
    later = threading.Event()
    timers.call_later(0.01, later.set)  # and again once the heap held only cancelled ones
    assert later.wait(10)


def test_a_callback_that_raises_does_not_stop_the_thread() -> None:
    timers = Timers()
    done = threading.Event()
    timers.call_later(0.0, lambda: 1 / 0)
    timers.call_later(0.01, done.set)
    assert done.wait(10)


def _in_child(timers: Timers, result: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    fired = threading.Event()
    timers.call_later(0.01, fired.set)
    result.put(fired.wait(10))


def test_a_forked_child_gets_a_thread_of_its_own() -> None:
    timers = Timers()
    timers.call_later(3600, print)  # the parent's thread exists, and is not copied by fork
    context = multiprocessing.get_context("fork")
    result = context.Queue()
    child = context.Process(target=_in_child, args=(timers, result))
    child.start()
    assert result.get(timeout=20) is True
    child.join(10)
