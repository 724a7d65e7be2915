"""Queued jobs: dispatched, not yet claimed by a worker. Shared by every poller
of a task list.

Two duties fall on the pollers while a job waits in the broker, and neither
may die with the poller that dispatched it:

* **keepalive**: SWF starts a task's heartbeat clock at the poll, so a job
  with a heartbeat timeout is beaten for until a worker claims it
  (:mod:`swfbridge.poller.keepalive`);
* **loss checks**: a broker can lose a message it took (kombu's Redis
  transport pops a message before it records it as unacked; a consumer killed
  between the two loses it), so a job still unclaimed after a while is looked
  for in the broker and published again if it is gone
  (:mod:`swfbridge.poller.recovery`).

The keys (names in :class:`~swfbridge.state.store.BridgeState`):

* ``queued:<domain>:<task list>`` — attempt ids scored by the epoch second
  their next keepalive beat is due;
* ``unclaimed:<domain>:<task list>`` — attempt ids scored by when the broker
  is next looked at for them;
* ``queued-job:<attempt id>`` — the job, input and task token included (to
  beat for it and to publish it again), expiring with the attempt's deadline.
  A token here is no more exposed than in the broker's own queue.

The poller writes all three with the job's slot in one round trip before it
publishes; the worker's claim removes them in the round trip that takes the
claim (:meth:`~swfbridge.state.store.BridgeState.claim`).

A poller *leases* the due entries of a schedule atomically (a Lua script
pushes their score ``lease_s`` on), serves them, and reschedules them; if it
dies between the two, the lease runs out and another poller takes them. So
each job is served by one poller at a time, however many pollers there are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from swfbridge.state.store import BridgeState
from swfbridge.wire.job import ActivityJob, MalformedJob

# Atomically take up to ARGV[3] entries due by ARGV[1] and push them to ARGV[2].
_LEASE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], member)
end
return due
"""

BEATS = "beats"
"""The keepalive schedule."""

CHECKS = "checks"
"""The loss-check schedule."""


class QueuedJobs:
    """The shared record of one fleet's queued jobs (see the module's docstring).

    Every method may raise :class:`~swfbridge.state.store.StateUnavailable`.
    """

    def __init__(self, state: BridgeState) -> None:
        self._state = state
        self._lease_script: Any = None

    @property
    def _redis(self) -> Any:
        return self._state.client

    def schedule_key(self, schedule: str, domain: str, task_list: str) -> str:
        if schedule == BEATS:
            return self._state.beats_key(domain, task_list)
        if schedule == CHECKS:
            return self._state.checks_key(domain, task_list)
        raise ValueError(f"unknown schedule {schedule!r}")

    def job_key(self, attempt_id: str) -> str:
        return self._state.queued_job_key(attempt_id)

    def record(
        self,
        job: ActivityJob,
        *,
        now: float,
        beat_due: float | None,
        check_due: float | None,
        pipeline: Any = None,
    ) -> None:
        """Record ``job`` as queued: beaten for from ``beat_due`` on, looked for in
        the broker from ``check_due`` on (None: not on that schedule).

        Given a ``pipeline`` of the state's client, the writes are only queued on
        it. Nothing is written when both times are None.
        """
        if beat_due is None and check_due is None:
            return
        pipe = pipeline if pipeline is not None else self._redis.pipeline(transaction=False)
        ttl_ms = max(1000, math.ceil((self._state.expiry_for(job.deadline) - now) * 1000))
        pipe.set(self.job_key(job.attempt_id), json.dumps(job.to_message()), px=ttl_ms)
        for schedule, due in ((BEATS, beat_due), (CHECKS, check_due)):
            if due is not None:
                key = self.schedule_key(schedule, job.domain, job.task_list)
                pipe.zadd(key, {job.attempt_id: due})
        if pipeline is None:
            self._state.call(pipe.execute)

    def add(self, job: ActivityJob, *, due: float, now: float) -> None:
        """Keep ``job`` alive from ``due`` on, until removed or past its deadline."""
        self.record(job, now=now, beat_due=due, check_due=None)

    def lease(
        self,
        domain: str,
        task_list: str,
        *,
        now: float,
        lease_s: float,
        limit: int = 100,
        schedule: str = BEATS,
    ) -> list[str]:
        """Take the attempts of ``schedule`` due by ``now``: no other poller sees
        them there for ``lease_s``."""
        if self._lease_script is None:
            self._lease_script = self._redis.register_script(_LEASE)
        due = self._state.call(
            self._lease_script,
            keys=[self.schedule_key(schedule, domain, task_list)],
            args=[now, now + lease_s, limit],
        )
        return [m.decode() if isinstance(m, bytes) else str(m) for m in due or ()]

    def load(self, attempt_id: str) -> ActivityJob | None:
        """The job behind an entry; None once it expired (or is unreadable)."""
        return self.load_many([attempt_id])[0]

    def load_many(self, attempt_ids: Sequence[str]) -> list[ActivityJob | None]:
        """The jobs behind entries, in order (one round trip)."""
        if not attempt_ids:
            return []
        raws = self._state.call(self._redis.mget, [self.job_key(a) for a in attempt_ids])
        return [_decode(raw) for raw in raws]

    def claimed(self, attempt_ids: Sequence[str]) -> list[bool]:
        """Whether each attempt has been claimed by a worker (one round trip)."""
        if not attempt_ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for attempt_id in attempt_ids:
            pipe.exists(self._state.claim_key(attempt_id))
        return [bool(n) for n in self._state.call(pipe.execute)]

    def reschedule(
        self, domain: str, task_list: str, attempt_id: str, *, due: float, schedule: str = BEATS
    ) -> None:
        """Next turn of a leased entry at ``due`` (only if it is still listed)."""
        key = self.schedule_key(schedule, domain, task_list)
        self._state.call(self._redis.zadd, key, {attempt_id: due}, xx=True)

    def remove(self, domain: str, task_list: str, attempt_id: str) -> None:
        """Forget a queued job (claimed, closed, past its deadline, never published)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(self.schedule_key(BEATS, domain, task_list), attempt_id)
        pipe.zrem(self.schedule_key(CHECKS, domain, task_list), attempt_id)
        pipe.delete(self.job_key(attempt_id))
        self._state.call(pipe.execute)

    def stop_beats(self, domain: str, task_list: str, attempt_id: str) -> None:
        """End the keepalive of a job still checked for (SWF said stop beating)."""
        self._state.call(self._redis.zrem, self.schedule_key(BEATS, domain, task_list), attempt_id)

    def next_due(self, domain: str, task_list: str, *, schedule: str = BEATS) -> float | None:
        """When the earliest entry of the schedule is due (None: none listed)."""
        key = self.schedule_key(schedule, domain, task_list)
        first = self._state.call(self._redis.zrange, key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def count(self, domain: str, task_list: str, *, schedule: str = BEATS) -> int:
        """Entries of the schedule for the task list (every poller's)."""
        zcard = self._redis.zcard
        return int(self._state.call(zcard, self.schedule_key(schedule, domain, task_list)))


def _decode(raw: Any) -> ActivityJob | None:
    if raw is None:
        return None
    try:
        return ActivityJob.from_message(json.loads(raw))
    except (ValueError, MalformedJob):
        return None
