"""Stopping a running activity: interrupts for any ``run``, cancellation for coroutines.

* :class:`Interrupter` interrupts ``run`` once, for the first reason that
  comes due (cancellation grace period over, task closed, deadline): in a
  prefork child by SIGUSR1, which billiard turns into
  ``SoftTimeLimitExceeded`` in the main thread.
* :class:`CoroutineCanceller` cancels an ``async def run``'s task from any
  thread: ``asyncio.CancelledError`` at its current ``await``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from swfbridge.worker.timers import TimerHandle, Timers, process_timers

log = logging.getLogger(__name__)


class StopReason(str, enum.Enum):
    """Why the worker interrupted a running activity."""

    CANCELLED = "cancelled"
    TASK_CLOSED = "task_closed"
    DEADLINE = "deadline"


# How long to wait for an interrupt already sent to arrive once run() is over.
_LATE_INTERRUPT_WAIT_S = 2.0


class Interrupter:
    """Interrupts ``run`` once, for the first reason that comes due, only while it runs.

    The interrupt is asynchronous (prefork: SIGUSR1 to our own process, turned
    into SoftTimeLimitExceeded in the main thread by billiard), so it can land
    after ``run`` returned. :meth:`settle` runs on the main thread right after
    ``run``: it stops the timers and, if an interrupt was sent but has not
    arrived, waits for it and swallows it, so it can neither hide a result
    nor hit the reporting code or the pool's next job.
    """

    def __init__(
        self,
        interrupt: Callable[[], None] | None,
        log_context: str,
        *,
        timers: Timers | None = None,
    ) -> None:
        self._interrupt = interrupt
        self._log_context = log_context
        self._scheduler = timers or process_timers()
        self._lock = threading.Lock()
        self._running = True
        self._timers: list[TimerHandle] = []
        self._fired: StopReason | None = None
        self._arrived = False

    @property
    def can_interrupt(self) -> bool:
        return self._interrupt is not None

    @property
    def fired(self) -> StopReason | None:
        """The reason the interrupt was sent for, if it was."""
        return self._fired

    def schedule(self, reason: StopReason, delay_s: float) -> None:
        """Interrupt ``run`` in ``delay_s`` seconds, for ``reason``, unless it has ended."""
        if self._interrupt is None:
            return
        with self._lock:
            if not self._running:
                return
            self._timers.append(self._scheduler.call_later(delay_s, self._fire, reason))

    def _fire(self, reason: StopReason) -> None:
        with self._lock:
            if not self._running or self._fired is not None or self._interrupt is None:
                return
            self._fired = reason
            log.warning("interrupting the activity (%s): %s", reason.value, self._log_context)
            try:
                self._interrupt()
            except Exception:
                log.exception("could not interrupt the activity: %s", self._log_context)

    def note_arrived(self) -> None:
        """``run`` raised SoftTimeLimitExceeded: a sent interrupt has arrived."""
        if self._fired is not None:
            self._arrived = True

    def settle(self, *, wait_for_arrival: bool = True) -> None:
        """Stop the timers; absorb an interrupt that was sent but has not arrived yet
        (unless ``wait_for_arrival`` is False: the interrupt is not a signal)."""
        while True:
            try:
                self._settle_once(wait_for_arrival)
                return
            except SoftTimeLimitExceeded:
                self._arrived = True

    def _settle_once(self, wait_for_arrival: bool) -> None:
        with self._lock:
            self._running = False
            for timer in self._timers:
                timer.cancel()
        if self._fired is None or self._arrived or not wait_for_arrival:
            return
        waited_until = time.monotonic() + _LATE_INTERRUPT_WAIT_S
        while time.monotonic() < waited_until:
            time.sleep(0.01)  # the signal is handled between two of these
        log.warning("an interrupt was sent but never arrived: %s", self._log_context)
        self._arrived = True


class CoroutineCanceller:
    """Cancels an async ``run``'s task from any thread, once, while it runs.

    Cancellation is asyncio's: ``CancelledError`` is raised into the coroutine
    at its current ``await``. A coroutine stuck in blocking code never reaches
    an ``await``; the :class:`Interrupter` ends it after the grace period.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._task: asyncio.Task[Any] | None = None
        self._over = False
        #: Why the task was cancelled, if it was.
        self.reason: StopReason | None = None

    def attach(self, task: asyncio.Task[Any]) -> None:
        """The task to cancel; cancelled at once if a stop was requested before."""
        with self._lock:
            self._task = task
            if self.reason is not None:
                task.cancel(f"swfbridge: {self.reason.value}")

    def detach(self) -> None:
        with self._lock:
            self._task = None
            self._over = True

    def cancel(self, reason: StopReason) -> None:
        """Cancel the task for ``reason`` (from any thread), unless it has ended."""
        with self._lock:
            if self._over or self.reason is not None:
                return
            task = self._task
            if task is not None and task.done():
                return
            self.reason = reason
            if task is None:
                return  # not created yet: attach() cancels it
            with contextlib.suppress(RuntimeError):  # the loop closed: the task is over
                self._loop.call_soon_threadsafe(task.cancel, f"swfbridge: {reason.value}")


def stop_soon(loop: asyncio.AbstractEventLoop) -> None:
    with contextlib.suppress(RuntimeError):  # closed: nothing runs on it any more
        loop.call_soon_threadsafe(loop.stop)


def cancelled_error(task: asyncio.Task[Any]) -> asyncio.CancelledError:
    try:
        task.result()
    except asyncio.CancelledError as exc:
        return exc
    return asyncio.CancelledError()  # pragma: no cover - the task was cancelled
