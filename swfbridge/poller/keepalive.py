"""Heartbeats for jobs that wait in the broker.

SWF starts a task's heartbeat clock at the poll. A job with a short heartbeat
timeout that waits in Celery's queue behind others would time out before any
worker saw it, so the pollers beat for it until a worker claims the attempt
(the claim in :mod:`swfbridge.state.store` says it has started; the worker's own
heartbeater takes over from there).

The jobs to keep alive are listed in the shared state store
(:mod:`swfbridge.state.queued`), not in the poller that dispatched them: every
live poller of the task list serves the list, so a poller killed -9 loses no
queued job's heartbeats. A job the store could not take (Redis down) is kept
alive from this poller's memory instead.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from swfbridge.aws.swf import SwfClient, SwfError, UnknownResource
from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError
from swfbridge.state.queued import QueuedJobs
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
        lease_s: How long the jobs a poller has taken to beat stay hidden from
            the others (if it dies meanwhile, another takes them after this).
        beat_threads: Heartbeats sent at once: one poller may carry every
            queued job of the task list when the others die.
        scan_s: Longest gap between two looks at the shared list (jobs other
            pollers added, or left behind when they died).
    """

    fraction: float = 0.4
    min_interval_s: float = 0.2
    lease_s: float = 0.3
    beat_threads: int = 8
    scan_s: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ConfigurationError(f"fraction must be within (0, 1), got {self.fraction!r}")
        check_seconds("min_interval_s", self.min_interval_s, allow_zero=False)
        check_seconds("lease_s", self.lease_s, allow_zero=False)
        check_seconds("scan_s", self.scan_s, allow_zero=False)
        if self.beat_threads < 1:
            raise ConfigurationError(f"beat_threads must be at least 1, got {self.beat_threads}")

    def interval_for(self, heartbeat_timeout_s: float) -> float:
        return max(self.min_interval_s, self.fraction * heartbeat_timeout_s)


class QueuedHeartbeats:
    """A thread that heartbeats the task list's dispatched jobs until a worker claims them.

    Args:
        swf: SWF client.
        state: Where the workers' claims and the shared list of queued jobs are.
        domain: SWF domain served.
        task_list: SWF task list served (with every other poller of it).
        config: Pacing.
        count: Called with a counter name on each event (``keepalive_beats``...).
        clock: Wall clock (epoch seconds), for deadlines and due times.
    """

    def __init__(
        self,
        *,
        swf: SwfClient,
        state: BridgeState,
        domain: str,
        task_list: str,
        config: KeepaliveConfig | None = None,
        count: Callable[[str], None] = lambda name: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._swf = swf
        self._state = state
        self._queued = QueuedJobs(state)
        self._domain = domain
        self._task_list = task_list
        self.config = config or KeepaliveConfig()
        self._count = count
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        # Jobs the store could not take (Redis down), with their next beat.
        self._local: dict[str, tuple[float, ActivityJob]] = {}
        self._thread: threading.Thread | None = None
        self._store_down = False
        # When the loop looks at the shared list next (clock time); infinite
        # while a round is under way, whose read may precede a job's record.
        self._next_look = math.inf

    def start(self) -> None:
        """Serve the task list's shared list (jobs other pollers left too)."""
        with self._lock:
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(
                    target=self._loop, name="swfbridge-keepalive", daemon=True
                )
                self._thread.start()

    def first_due(self, job: ActivityJob, now: float) -> float | None:
        """When ``job``'s first keepalive beat is due (None: it has no heartbeat timeout)."""
        if job.heartbeat_timeout_s is None:
            return None
        return now + self.config.interval_for(job.heartbeat_timeout_s)

    def track(self, job: ActivityJob) -> None:
        """Keep ``job`` alive until it is claimed (no-op without a heartbeat timeout).

        The poller records its jobs with their slot instead (one round trip,
        :meth:`swfbridge.state.queued.QueuedJobs.record`) and calls
        :meth:`keep_in_memory` when the store could not take one.
        """
        now = self._clock()
        due = self.first_due(job, now)
        if due is None:
            return
        try:
            self._queued.add(job, due=due, now=now)
        except StateUnavailable as exc:
            self.keep_in_memory(job, reason=exc)
            return
        self.start()
        self._wake.set()

    def keep_in_memory(self, job: ActivityJob, *, reason: Exception) -> None:
        """Beat for ``job`` from this poller's memory: the store could not record it.

        Moved to the store as soon as it answers again.
        """
        due = self.first_due(job, self._clock())
        if due is None:
            return
        log.warning(
            "keepalive: state store unavailable (%s); this poller beats for the job: %s",
            reason,
            job.log_context(),
        )
        with self._lock:
            self._local[job.attempt_id] = (due, job)
        self.start()
        self._wake.set()

    def recorded(self, due: float | None) -> None:
        """A job was recorded in the store, its first beat ``due`` then (None:
        never): look at the shared list now if that is before the next look."""
        if due is not None and due < self._next_look:
            self._wake.set()

    @property
    def tracked(self) -> int:
        """Queued jobs kept alive for the task list (by every poller), plus local ones."""
        with self._lock:
            local = len(self._local)
        try:
            return local + self._queued.count(self._domain, self._task_list)
        except StateUnavailable:
            return local

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def _loop(self) -> None:
        with ThreadPoolExecutor(
            self.config.beat_threads, thread_name_prefix="swfbridge-keepalive-beat"
        ) as beats:
            self._serve_until_stopped(beats)

    def _serve_until_stopped(self, beats: ThreadPoolExecutor) -> None:
        while not self._stopped.is_set():
            self._next_look = math.inf
            try:
                wait = self._round(beats)
                if self._store_down:
                    log.info("keepalive: state store back")
                    self._store_down = False
            except StateUnavailable as exc:
                if not self._store_down:
                    log.warning("keepalive: state store unavailable (%s), retrying", exc)
                    self._store_down = True
                wait = self.config.scan_s
            except Exception:  # the keeper must outlive any one job
                log.exception("keepalive round failed")
                wait = self.config.scan_s
            wait = max(0.01, min(wait, self._beat_local()))
            self._next_look = self._clock() + wait
            self._wake.wait(wait)
            self._wake.clear()

    def _round(self, beats: ThreadPoolExecutor) -> float:
        """Beat the shared list's due jobs; seconds until the next look."""
        self._move_local_to_store()
        now = self._clock()
        leased = self._queued.lease(
            self._domain, self._task_list, now=now, lease_s=self.config.lease_s
        )
        # Beats at once: a round must end well within the lease.
        for done in [beats.submit(self._serve, attempt_id) for attempt_id in leased]:
            done.result()
        next_due = self._queued.next_due(self._domain, self._task_list)
        if next_due is None:
            return self.config.scan_s
        return min(self.config.scan_s, next_due - self._clock())

    def _serve(self, attempt_id: str) -> None:
        job = self._queued.load(attempt_id)
        if job is None or job.heartbeat_timeout_s is None:  # expired with its deadline
            self._queued.remove(self._domain, self._task_list, attempt_id)
            return
        if self._state.claimed(attempt_id):
            # Started: the worker beats from now on.
            self._queued.remove(self._domain, self._task_list, attempt_id)
            return
        again_in = self._beat(job)
        if again_in == _CLOSED:
            self._queued.remove(self._domain, self._task_list, attempt_id)
        elif again_in is None:
            # Still queued (and still looked for in the broker), no longer beaten for.
            self._queued.stop_beats(self._domain, self._task_list, attempt_id)
        else:
            self._queued.reschedule(
                self._domain, self._task_list, attempt_id, due=self._clock() + again_in
            )

    def _move_local_to_store(self) -> None:
        with self._lock:
            local, self._local = self._local, {}
        try:
            while local:
                attempt_id, (due, job) = next(iter(local.items()))
                self._queued.add(job, due=due, now=self._clock())
                del local[attempt_id]
        finally:
            with self._lock:
                self._local.update(local)

    def _beat_local(self) -> float:
        """Beat the jobs kept in memory that are due; seconds until the next one."""
        with self._lock:
            local = dict(self._local)
        wait = self.config.scan_s
        for attempt_id, (due, job) in local.items():
            now = self._clock()
            if due > now:
                wait = min(wait, due - now)
                continue
            again_in = self._beat(job)
            with self._lock:
                if attempt_id not in self._local:
                    continue
                if again_in is None or again_in == _CLOSED:
                    del self._local[attempt_id]
                else:
                    self._local[attempt_id] = (self._clock() + again_in, job)
                    wait = min(wait, again_in)
        return wait

    def _beat(self, job: ActivityJob) -> float | None:
        """One heartbeat for a queued job: seconds until the next; None to stop
        beating (a cancellation was requested); :data:`_CLOSED` when SWF closed
        the task or its deadline passed (nothing more to do for it)."""
        assert job.heartbeat_timeout_s is not None
        if job.deadline is not None and self._clock() >= job.deadline:
            return _CLOSED
        try:
            answer = self._swf.call(
                "record_activity_task_heartbeat", retry=False, taskToken=job.task_token
            )
        except UnknownResource:
            log.warning("queued task closed in SWF before a worker took it: %s", job.log_context())
            self._count("keepalive_closed")
            return _CLOSED
        except SwfError as exc:
            log.warning(
                "keepalive heartbeat failed (%s), retrying: %s", exc.code, job.log_context()
            )
            return self.config.min_interval_s
        self._count("keepalive_beats")
        # A cancellation request is left for the worker: it sees it on its first beat.
        if answer.get("cancelRequested"):
            return None
        return self.config.interval_for(job.heartbeat_timeout_s)


_CLOSED = -1.0
"""What :meth:`QueuedHeartbeats._beat` returns for a task with nothing left to do."""
