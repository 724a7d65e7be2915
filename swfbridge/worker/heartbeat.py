"""Per-attempt heartbeating: coalesced progress, cancellation, lost tasks.

An activity may call ``heartbeat(details)`` as often as it likes; a
:class:`Heartbeater` thread sends only the latest details, at most once per
interval (0.8 × the task's heartbeat timeout, capped). What SWF answers is
kept as state the activity reads without waiting on the network:

* ``cancelRequested: true`` → :attr:`Heartbeater.cancel_requested`;
* ``UnknownResourceFault`` → :attr:`Heartbeater.task_closed` (timed out or
  closed elsewhere).

Failed or throttled heartbeat calls are logged and retried sooner than the
next regular beat (see :func:`retry_delay_s`), so one lost call does not cost
the task its heartbeat timeout; nothing a heartbeat call does can raise into
the activity or the worker.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from swfbridge.aws.swf import SwfClient, SwfError, UnknownResource
from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError
from swfbridge.wire.limits import MAX_HEARTBEAT_DETAILS, truncate
from swfbridge.wire.outcome import encode_details

log = logging.getLogger(__name__)

#: Share of the heartbeat timeout between two sends (Temporal's choice).
HEARTBEAT_FRACTION = 0.8

# Retry of a failed beat, as a fraction of the interval: the first
# QUICK_RETRIES come at this pace, later ones double up to the interval.
RETRY_FRACTION = 1 / 32
QUICK_RETRIES = 7


def retry_delay_s(interval_s: float, failures: int) -> float:
    """How long after its ``failures``-th failure in a row a heartbeat is sent again.

    A beat paced at 0.8 × the heartbeat timeout has 0.2 × the timeout left
    when it fails: seven retries, 0.025 × the timeout apart, land before SWF
    times the task out (a throttling burst that refuses 30 % of calls then
    costs a task about 1 time in 15,000; three retries 0.05 × apart cost 1 in
    120, and the short soak in CI met one). A quarter of the interval, as at
    first, put the first retry on the deadline itself (found by the soak).
    """
    extra = max(0, failures - QUICK_RETRIES)
    return min(interval_s, interval_s * RETRY_FRACTION * 2.0**extra)


DEFAULT_MAX_INTERVAL_S = 30.0
DEFAULT_MIN_INTERVAL_S = 0.2
DEFAULT_CANCEL_GRACE_S = 5.0


@dataclass(frozen=True)
class HeartbeatConfig:
    """Heartbeat pacing and the cancellation grace period, for every attempt a worker runs.

    Args:
        max_interval_s: Longest gap between two heartbeats sent while there is
            news (and between liveness beats), whatever the heartbeat timeout.
            Also the pace for tasks without a heartbeat timeout.
        min_interval_s: Shortest gap, so a tiny heartbeat timeout cannot flood SWF.
        cancel_grace_s: How long an activity has to stop by itself once SWF
            asked to cancel it (or no longer knows its task) before the worker
            interrupts it.

    Raises:
        ConfigurationError: A value is not a positive number of seconds (the
            grace may be 0), or ``min_interval_s > max_interval_s``.
    """

    max_interval_s: float = DEFAULT_MAX_INTERVAL_S
    min_interval_s: float = DEFAULT_MIN_INTERVAL_S
    cancel_grace_s: float = DEFAULT_CANCEL_GRACE_S

    def __post_init__(self) -> None:
        check_seconds("max_interval_s", self.max_interval_s, allow_zero=False)
        check_seconds("min_interval_s", self.min_interval_s, allow_zero=False)
        check_seconds("cancel_grace_s", self.cancel_grace_s)
        if self.min_interval_s > self.max_interval_s:
            raise ConfigurationError(
                f"min_interval_s ({self.min_interval_s}) is above max_interval_s "
                f"({self.max_interval_s})"
            )

    def interval_for(self, heartbeat_timeout_s: float | None) -> float:
        """Seconds between two sends for a task with this heartbeat timeout.

        Args:
            heartbeat_timeout_s: The task's heartbeat timeout (None: no timeout).

        Returns:
            ``0.8 × heartbeat_timeout_s``, within ``[min_interval_s, max_interval_s]``.
        """
        if heartbeat_timeout_s is None:
            return self.max_interval_s
        return max(
            self.min_interval_s, min(self.max_interval_s, HEARTBEAT_FRACTION * heartbeat_timeout_s)
        )


class Heartbeater:
    """Sends one attempt's heartbeats from a background thread.

    Args:
        swf: The SWF client.
        task_token: The attempt's token.
        interval_s: Minimum time between two sends.
        liveness: Also send beats without news (automatic liveness heartbeats).
        on_stop_requested: Called once, from the heartbeat thread, when SWF
            asks to cancel or no longer knows the task.
        log_context: Ids to put on log lines.
        fit_details: Makes details fit SWF's 2,048 characters, called in the
            heartbeat thread just before a send (S3 offload hooks in here);
            truncation if None.
        clock: Monotonic clock (tests).
    """

    def __init__(
        self,
        *,
        swf: SwfClient,
        task_token: str,
        interval_s: float,
        liveness: bool = False,
        on_stop_requested: Callable[[], None] | None = None,
        log_context: str = "",
        fit_details: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._swf = swf
        self._token = task_token
        self._interval_s = interval_s
        self._liveness = liveness
        self._on_stop_requested = on_stop_requested
        self._log_context = log_context
        self._fit_details = fit_details or (lambda t: truncate(t, MAX_HEARTBEAT_DETAILS))
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._latest: str | None = None
        self._has_pending = False
        self._next_send = -math.inf
        self._failures = 0
        self._stopped = False
        self._started = False
        self._thread: threading.Thread | None = None
        #: SWF answered ``cancelRequested: true``.
        self.cancel_requested = False
        #: SWF answered ``UnknownResourceFault``: the task is closed (timed out, ...).
        self.task_closed = False
        #: Heartbeat calls attempted (successful or not).
        self.calls = 0

    @property
    def latest_details(self) -> str | None:
        """The details of the latest :meth:`record` (as text), sent or not."""
        return self._latest

    @property
    def interval_s(self) -> float:
        """Minimum time between two sends."""
        return self._interval_s

    def start(self) -> None:
        """Start beating.

        The thread itself starts with the first news to send (at once for
        liveness beats): a job that never reports progress costs no thread.
        """
        with self._cond:
            self._started = True
            if self._liveness or self._has_pending:
                self._spawn_locked()

    def _spawn_locked(self) -> None:
        if self._thread is None and not self._stopped:
            self._thread = threading.Thread(
                target=self._loop, name="swfbridge-heartbeat", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop beating; details recorded but not yet sent are dropped."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def record(self, details: Any = None) -> None:
        """Remember ``details`` as the latest progress; sent at the next beat.

        Args:
            details: None, a string (sent as is) or any JSON-serialisable value
                (sent as JSON); clipped to 2,048 characters with a marker.
        """
        text = encode_details(details)
        with self._cond:
            self._pending = self._latest = text
            self._has_pending = True
            if self._started:
                self._spawn_locked()
            self._cond.notify_all()

    def beat_now(self) -> None:
        """Send one heartbeat at once, from the calling thread, before :meth:`start`.

        The worker calls it as a job starts when the task has a heartbeat
        timeout: it tells a task SWF already closed (or wants cancelled) from
        one worth running, and restarts the heartbeat clock that has been
        running since the poll, while the job waited in the queue.
        """
        with self._cond:
            details, self._has_pending = self._pending, False
            self._next_send = self._clock() + self._interval_s
        self._send(details)

    def _due_in(self) -> float | None:
        """Seconds until the next send, or None if nothing is to be sent."""
        if not (self._has_pending or self._liveness):
            return None
        return self._next_send - self._clock()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    due = self._due_in()
                    if due is not None and due <= 0:
                        break
                    self._cond.wait(timeout=due)
                if self._stopped:
                    return
                details = self._pending
                self._has_pending = False
                self._next_send = self._clock() + self._interval_s
            if not self._send(details):
                return

    def _send(self, details: str | None) -> bool:
        """One heartbeat call. Returns False when beating should end."""
        params: dict[str, Any] = {"taskToken": self._token}
        self.calls += 1
        log.debug(
            "heartbeat sent (%d chars of details): %s",
            0 if details is None else len(details),
            self._log_context,
        )
        try:
            if details is not None:
                params["details"] = self._fit_details(details)
            answer = self._swf.call("record_activity_task_heartbeat", retry=False, **params)
        except UnknownResource:
            log.warning(
                "heartbeat: SWF no longer knows the task (timed out or closed): %s",
                self._log_context,
            )
            self.task_closed = True
            self._notify_stop_requested()
            return False
        except Exception as exc:  # never let a heartbeat crash the worker
            self._retry_soon(details, exc)
            return True
        self._failures = 0
        if answer.get("cancelRequested"):
            if not self.cancel_requested:
                log.info("cancellation requested by SWF: %s", self._log_context)
                self.cancel_requested = True
                self._notify_stop_requested()
            return False
        return True

    def _retry_soon(self, details: str | None, exc: Exception) -> None:
        self._failures += 1
        delay = retry_delay_s(self._interval_s, self._failures)
        if isinstance(exc, SwfError):
            log.warning(
                "heartbeat failed (%s), retrying in %.1fs: %s", exc.code, delay, self._log_context
            )
        else:
            log.exception(
                "heartbeat failed unexpectedly, retrying in %.1fs: %s", delay, self._log_context
            )
        with self._cond:
            # Resend what failed, unless newer details were recorded meanwhile.
            if not self._has_pending:
                self._pending, self._has_pending = details, True
            self._next_send = min(self._next_send, self._clock() + delay)

    def _notify_stop_requested(self) -> None:
        if self._on_stop_requested is not None:
            try:
                self._on_stop_requested()
            except Exception:
                log.exception("stop-request callback failed: %s", self._log_context)
