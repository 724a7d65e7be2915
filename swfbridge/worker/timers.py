"""One timer thread per process, for the callbacks attempts schedule.

Every attempt with a deadline schedules an interrupt at it, and most are
cancelled when ``run`` returns long before. A ``threading.Timer`` each is an
OS thread started and torn down per job; here one daemon thread serves them
all from a heap, started on first use in each process (a prefork child starts
its own: threads do not survive ``fork``).

Callbacks run on the timer thread and must be quick (the interrupter's only
sends a signal).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# Cancelled entries are dropped from the heap once they are more than half of it
# (and at least this many): long deadlines cancelled early must not pile up.
_COMPACT_AT = 64


class TimerHandle:
    """A scheduled callback; :meth:`cancel` keeps it from running."""

    __slots__ = ("_args", "_fn", "_timers", "cancelled")

    def __init__(self, timers: Timers, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._timers = timers
        self._fn = fn
        self._args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the callback (no-op once it has run)."""
        self._timers._cancel(self)

    def _run(self) -> None:
        try:
            self._fn(*self._args)
        except Exception:
            log.exception("a scheduled callback failed")


class Timers:
    """Runs callbacks after delays, on one daemon thread of this process.

    Args:
        clock: Monotonic seconds (tests may pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._cancelled = 0
        self._thread: threading.Thread | None = None

    def call_later(self, delay_s: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``fn(*args)`` in ``delay_s`` seconds (at once if not positive)."""
        if os.getpid() != self._pid:  # forked: the parent's thread is not here
            self._reset()
        handle = TimerHandle(self, fn, args)
        due = self._clock() + max(0.0, delay_s)
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), handle))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="swfbridge-timers", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is handle:  # due before what the thread waits for
                self._cond.notify()
        return handle

    @property
    def pending(self) -> int:
        """Callbacks scheduled and neither run nor cancelled."""
        with self._cond:
            return len(self._heap) - self._cancelled

    def _cancel(self, handle: TimerHandle) -> None:
        with self._cond:
            if handle.cancelled:
                return
            handle.cancelled = True
            self._cancelled += 1
            if self._cancelled >= _COMPACT_AT and 2 * self._cancelled > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _loop(self) -> None:
        # The thread sleeps until the earliest entry's due time, cancelled or
        # not, and drops cancelled entries only once one is due. Were it to drop
        # them as soon as it woke, a job's entry (cancelled by the time the thread
        # ran) would leave the heap empty, and the next job's schedule would have
        # to wake it again: one thread wake-up per job. This way a push wakes the
        # thread only when it comes due before everything in the heap.
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    left = self._heap[0][0] - self._clock()
                    if left > 0:
                        self._cond.wait(min(left, threading.TIMEOUT_MAX))
                        continue
                    _, _, handle = heapq.heappop(self._heap)
                    if not handle.cancelled:
                        break
                    self._cancelled -= 1
                    # And the cancelled ones right behind it: one wake-up for a run of them.
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                        self._cancelled -= 1
                # Marked before running, so a cancel() from now on changes no count.
                handle.cancelled = True
            handle._run()


_process_timers = Timers()


def process_timers() -> Timers:
    """This process's timer thread (shared by every executor in it)."""
    return _process_timers
