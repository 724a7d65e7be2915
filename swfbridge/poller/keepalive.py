"""Heartbeats for jobs that wait in the broker.

SWF starts a task's heartbeat clock at the poll. A job with a short heartbeat
timeout that waits in Celery's queue behind others would time out before any
worker saw it, so the poller beats for it until a worker claims the attempt
(the claim in :mod:`swfbridge.state.store` says it has started; the worker's own
heartbeater takes over from there).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from swfbridge.aws.swf import SwfClient, SwfError, UnknownResource
from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError
from swfbridge.state.store import BridgeState, StateUnavailable
from swfbridge.wire.job import ActivityJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeepaliveConfig:
    """Pacing of heartbeats for queued jobs.

    Args:
        fraction: Beat every ``fraction`` × the task's heartbeat timeout; well
            under 1 so the gap before the worker's first beat still fits.
        min_interval_s: Shortest gap between two beats of one job.
    """

    fraction: float = 0.4
    min_interval_s: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ConfigurationError(f"fraction must be within (0, 1), got {self.fraction!r}")
        check_seconds("min_interval_s", self.min_interval_s, allow_zero=False)

    def interval_for(self, heartbeat_timeout_s: float) -> float:
        return max(self.min_interval_s, self.fraction * heartbeat_timeout_s)


class QueuedHeartbeats:
    """A thread that heartbeats dispatched jobs until a worker claims them.

    Args:
        swf: SWF client.
        state: Where the workers' claims are.
        config: Pacing.
        count: Called with a counter name on each event (``keepalive_beats``...).
        clock: Wall clock (epoch seconds), for deadlines.
    """

    def __init__(
        self,
        *,
        swf: SwfClient,
        state: BridgeState,
        config: KeepaliveConfig | None = None,
        count: Callable[[str], None] = lambda name: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._swf = swf
        self._state = state
        self.config = config or KeepaliveConfig()
        self._count = count
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, ActivityJob]] = []
        self._seq = itertools.count()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def track(self, job: ActivityJob) -> None:
        """Keep ``job`` alive until it is claimed (no-op without a heartbeat timeout)."""
        if job.heartbeat_timeout_s is None:
            return
        due = time.monotonic() + self.config.interval_for(job.heartbeat_timeout_s)
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), job))
            self._cond.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="swfbridge-keepalive", daemon=True
                )
                self._thread.start()

    @property
    def tracked(self) -> int:
        with self._cond:
            return len(self._heap)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopped:
                    return
                _, _, job = heapq.heappop(self._heap)
            try:
                again = self._beat(job)
            except Exception:  # the keeper must outlive any one job
                log.exception("keepalive failed: %s", job.log_context())
                again = True
            if again:
                assert job.heartbeat_timeout_s is not None
                due = time.monotonic() + self.config.interval_for(job.heartbeat_timeout_s)
                with self._cond:
                    heapq.heappush(self._heap, (due, next(self._seq), job))

    def _beat(self, job: ActivityJob) -> bool:
        """One heartbeat for a queued job. Returns True to keep tracking it."""
        if job.deadline is not None and self._clock() >= job.deadline:
            return False
        try:
            if self._state.claimed(job.attempt_id):
                return False  # started: the worker beats from now on
        except StateUnavailable as exc:
            log.warning(
                "keepalive: cannot see claims (%s); beating anyway: %s", exc, job.log_context()
            )
        try:
            answer = self._swf.call(
                "record_activity_task_heartbeat", retry=False, taskToken=job.task_token
            )
        except UnknownResource:
            log.warning("queued task closed in SWF before a worker took it: %s", job.log_context())
            self._count("keepalive_closed")
            return False
        except SwfError as exc:
            log.warning(
                "keepalive heartbeat failed (%s), retrying: %s", exc.code, job.log_context()
            )
            return True
        self._count("keepalive_beats")
        # A cancellation request is left for the worker: it sees it on its first beat.
        return not answer.get("cancelRequested")
