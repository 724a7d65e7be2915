from __future__ import annotations

import time
from typing import Any

from swfbridge.poller.loop import Poller, PollerConfig
from swfbridge.poller.timeouts import TaskTimeouts
from tests.unit.poller.test_poller_loop import (
    FAST,
    FakeDispatcher,
    FakeState,
    FakeSwf,
    task,
    wait_until,
)


class Timeouts:
    counts: dict[str, int] = {}

    def for_task(self, response: dict[str, Any]) -> TaskTimeouts:
        return TaskTimeouts(start_to_close_s=60.0, heartbeat_s=None)


def _second_job_after_a_release() -> FakeState:
    """One slot, two tasks: the second waits until the first job's slot is
    released, 50 ms after the thread started waiting; the state, once both are
    published (within 5 s: a timed look would wait out the 30 s interval)."""
    swf = FakeSwf([task(1), task(2)])
    dispatcher, state = FakeDispatcher(), FakeState()
    poller = Poller(
        config=PollerConfig(
            domain="d",
            task_list="tl",
            identity="test",
            error_backoff=FAST,
            broker_backoff=FAST,
            max_in_flight=1,
            slot_check_interval_s=30.0,
        ),
        swf=swf,  # type: ignore[arg-type]
        dispatcher=dispatcher,
        timeouts=Timeouts(),  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
    )
    poller.start()
    try:
        wait_until(lambda: len(dispatcher.published) == 1)
        wait_until(lambda: poller.counts.get("slot_waits", 0) >= 1)
        time.sleep(0.05)  # the fleet is full for a short job's length
        state.release("d", "tl", dispatcher.published[0].attempt_id)
        wait_until(lambda: len(dispatcher.published) == 2, timeout_s=5.0)
    finally:
        poller.stop()
        assert poller.join(5)
    return state


def test_a_poll_thread_waiting_for_a_slot_takes_a_freed_one_long_before_the_check_interval() -> (
    None
):
    # Woken by the release: a timed look would wait out the 30 s interval.
    _second_job_after_a_release()


def test_after_its_slot_ahead_is_refused_a_poll_thread_waits_before_asking_again() -> None:
    # The round trip that recorded the job found every slot taken: asking again at
    # once would be refused too, so the thread waits for a release first.
    state = _second_job_after_a_release()

    assert state.refused_ahead >= 1
    assert state.refused - state.refused_ahead == 0  # no plain reserve was refused
