"""Publishing again the queued jobs a broker lost.

A job the poller published may never reach a worker: kombu's Redis transport
pops a message and only then records it as unacked, so a worker killed -9
between the two loses the message, with no trace in Redis. SWF would time the
task out at its start-to-close deadline although nothing ever ran it.

So every poller of a task list also looks after its queued jobs (the shared
record in :mod:`swfbridge.state.queued`): a job still unclaimed some time after
it was published is looked for in the broker (:mod:`swfbridge.poller.brokerlook`).
Still there (waiting, or taken by a worker): looked for again later. Gone: if
SWF still has the task open, the job is published again.

Why a second copy is safe: the worker claims each attempt before running it
(:meth:`swfbridge.state.store.BridgeState.claim`), and a claimed attempt drops
every other copy. If the "lost" message was only in flight (popped, not yet
recorded) when looked for, both copies arrive and one runs.

Only jobs run by ``swfbridge.run_activity`` on a Redis broker are looked
after (:meth:`swfbridge.poller.dispatch.CeleryDispatcher.recoverable`):
RabbitMQ and SQS keep a taken message until it is acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from swfbridge.aws.swf import SwfClient, SwfError, UnknownResource
from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError
from swfbridge.poller.dispatch import PublishError
from swfbridge.state.queued import CHECKS, QueuedJobs
from swfbridge.state.store import BridgeState, StateUnavailable
from swfbridge.wire.job import ActivityJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveryConfig:
    """When queued jobs are looked for in the broker.

    A job is first looked for ``fraction`` × its start-to-close timeout after
    it was published, bounded by ``min_interval_s`` and ``max_interval_s``
    (``max_interval_s`` without a start-to-close timeout), and again at the
    same interval while it stays unclaimed.

    Args:
        fraction: Share of the start-to-close timeout between two looks.
        min_interval_s: Shortest gap between two looks for one job.
        max_interval_s: Longest gap between two looks for one job.
        look_every_s: Gap between two looks at the shared record for due jobs.
        lease_s: How long jobs a poller is looking after stay hidden from the
            other pollers (if it dies meanwhile, another takes them after this).
        batch: Most jobs looked for in one round.
    """

    fraction: float = 0.1
    min_interval_s: float = 5.0
    max_interval_s: float = 60.0
    look_every_s: float = 1.0
    lease_s: float = 30.0
    batch: int = 500

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ConfigurationError(f"fraction must be within (0, 1), got {self.fraction!r}")
        check_seconds("min_interval_s", self.min_interval_s, allow_zero=False)
        check_seconds("max_interval_s", self.max_interval_s, allow_zero=False)
        check_seconds("look_every_s", self.look_every_s, allow_zero=False)
        check_seconds("lease_s", self.lease_s, allow_zero=False)
        if self.max_interval_s < self.min_interval_s:
            raise ConfigurationError("max_interval_s must not be below min_interval_s")
        if self.batch < 1:
            raise ConfigurationError(f"batch must be at least 1, got {self.batch}")

    def interval_for(self, job: ActivityJob) -> float:
        if job.deadline is None:
            return self.max_interval_s
        share = self.fraction * max(0.0, job.deadline - job.polled_at)
        return min(self.max_interval_s, max(self.min_interval_s, share))


class Republisher(Protocol):
    """What recovery needs of the dispatcher."""

    def publish(self, job: ActivityJob) -> None: ...

    def in_broker(self, attempt_ids: Collection[str]) -> set[str] | None: ...


class LostJobRecovery:
    """A thread that publishes again the task list's queued jobs the broker lost.

    Args:
        swf: SWF client (is the task still open?).
        state: The shared record of queued jobs and the workers' claims.
        dispatcher: Looks into the broker and publishes.
        domain: SWF domain served.
        task_list: SWF task list served (with every other poller of it).
        config: Pacing.
        count: Called with a counter name on each event (``jobs_republished``).
        clock: Wall clock (epoch seconds).
    """

    def __init__(
        self,
        *,
        swf: SwfClient,
        state: BridgeState,
        dispatcher: Republisher,
        domain: str,
        task_list: str,
        config: RecoveryConfig | None = None,
        count: Callable[[str], None] = lambda name: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._swf = swf
        self._queued = QueuedJobs(state)
        self._dispatcher = dispatcher
        self._domain = domain
        self._task_list = task_list
        self.config = config or RecoveryConfig()
        self._count = count
        self._clock = clock
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._trouble: str | None = None

    def first_look(self, job: ActivityJob, now: float) -> float:
        """When ``job``, published at ``now``, is first looked for in the broker."""
        return now + self.config.interval_for(job)

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(
                    target=self._loop, name="swfbridge-recovery", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                more = self.look_once()
                self._troubled(None)
            except StateUnavailable as exc:
                self._troubled(f"state store unavailable ({exc})")
                more = False
            except PublishError as exc:
                self._troubled(f"broker unavailable ({exc})")
                more = False
            except Exception:  # the thread must outlive any one job
                log.exception("lost-job recovery round failed")
                more = False
            if not more:
                self._stopped.wait(self.config.look_every_s)

    def _troubled(self, trouble: str | None) -> None:
        if trouble is not None and self._trouble is None:
            log.warning("lost-job recovery paused: %s; retrying", trouble)
        elif trouble is None and self._trouble is not None:
            log.info("lost-job recovery resumed")
        self._trouble = trouble

    def look_once(self) -> bool:
        """One round: look for the due jobs and publish the lost ones again.

        Returns:
            True when a full batch was due (more may be: look again at once).

        Raises:
            StateUnavailable: the state store cannot be reached.
            PublishError: the broker cannot be reached (the jobs are looked for
                again once their lease runs out).
        """
        now = self._clock()
        leased = self._queued.lease(
            self._domain,
            self._task_list,
            now=now,
            lease_s=self.config.lease_s,
            limit=self.config.batch,
            schedule=CHECKS,
        )
        if not leased:
            return False
        jobs = self._queued.load_many(leased)
        claimed = self._queued.claimed(leased)
        waiting: list[ActivityJob] = []
        for attempt_id, job, taken in zip(leased, jobs, claimed, strict=True):
            if job is None or taken or (job.deadline is not None and now >= job.deadline):
                # Started, or past its deadline: nothing to look after.
                self._queued.remove(self._domain, self._task_list, attempt_id)
            else:
                waiting.append(job)
        if waiting:
            present = self._dispatcher.in_broker([job.attempt_id for job in waiting])
            for job in waiting:
                if present is None or job.attempt_id in present:
                    self._look_again(job)
                else:
                    self._republish(job)
        return len(leased) >= self.config.batch

    def _look_again(self, job: ActivityJob, after_s: float | None = None) -> None:
        after_s = self.config.interval_for(job) if after_s is None else after_s
        self._queued.reschedule(
            self._domain,
            self._task_list,
            job.attempt_id,
            due=self._clock() + after_s,
            schedule=CHECKS,
        )

    def _republish(self, job: ActivityJob) -> None:
        # Publish again only what SWF still waits for: a task closed meanwhile
        # (cancelled, timed out, failed by the bridge) must not run.
        try:
            self._swf.call("record_activity_task_heartbeat", retry=False, taskToken=job.task_token)
        except UnknownResource:
            log.info("lost job's task closed in SWF; not published again: %s", job.log_context())
            self._queued.remove(self._domain, self._task_list, job.attempt_id)
            return
        except SwfError as exc:
            log.warning(
                "lost job not published again yet (SWF: %s), retrying: %s",
                exc.code,
                job.log_context(),
            )
            self._look_again(job, self.config.min_interval_s)
            return
        try:
            self._dispatcher.publish(job)
        except PublishError as exc:
            log.warning("lost job not published again yet (%s): %s", exc, job.log_context())
            self._look_again(job, self.config.min_interval_s)
            return
        self._count("jobs_republished")
        log.warning(
            "the broker lost a queued job before any worker took it; published it again: %s",
            job.log_context(),
        )
        self._look_again(job)
