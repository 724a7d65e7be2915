"""Queued jobs awaiting keepalive heartbeats, shared by every poller of a task list.

A job waiting in the broker has its SWF heartbeat clock running; a poller
beats for it until a worker claims it. The list of those jobs lives here, not
in one poller's memory, so that when a poller dies any live poller of the task
list (or the same one, restarted) carries on:

* ``queued:<domain>:<task list>`` — a sorted set of attempt ids scored by the
  epoch second their next beat is due;
* ``queued-job:<attempt id>`` — the job (without its input) the beat needs,
  task token included, expiring with the attempt's deadline. A token here is
  no more exposed than in the broker's own queue.

A poller *leases* the due entries atomically (a Lua script pushes their score
``lease_s`` on), beats them, and schedules the next beat; if it dies between
the two, the lease runs out and another poller takes them. So each job is
beaten by one poller per interval, however many pollers there are.
"""

from __future__ import annotations

import dataclasses
import json
import math
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


class QueuedJobs:
    """The shared keepalive list of one fleet (see the module's docstring).

    Every method may raise :class:`~swfbridge.state.store.StateUnavailable`.
    """

    def __init__(self, state: BridgeState) -> None:
        self._state = state
        self._lease_script: Any = None

    @property
    def _redis(self) -> Any:
        return self._state.client

    def queue_key(self, domain: str, task_list: str) -> str:
        return f"{self._state.config.key_prefix}:queued:{domain}:{task_list}"

    def job_key(self, attempt_id: str) -> str:
        return f"{self._state.config.key_prefix}:queued-job:{attempt_id}"

    def add(self, job: ActivityJob, *, due: float, now: float) -> None:
        """Keep ``job`` alive from ``due`` on, until removed or past its deadline."""
        ttl_ms = max(1000, math.ceil((self._state.expiry_for(job.deadline) - now) * 1000))
        body = json.dumps(dataclasses.replace(job, input=None).to_message())
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(self.job_key(job.attempt_id), body, px=ttl_ms)
        pipe.zadd(self.queue_key(job.domain, job.task_list), {job.attempt_id: due})
        self._state.call(pipe.execute)

    def lease(
        self, domain: str, task_list: str, *, now: float, lease_s: float, limit: int = 100
    ) -> list[str]:
        """Take the attempts due by ``now``: no other poller sees them for ``lease_s``."""
        if self._lease_script is None:
            self._lease_script = self._redis.register_script(_LEASE)
        due = self._state.call(
            self._lease_script,
            keys=[self.queue_key(domain, task_list)],
            args=[now, now + lease_s, limit],
        )
        return [m.decode() if isinstance(m, bytes) else str(m) for m in due or ()]

    def load(self, attempt_id: str) -> ActivityJob | None:
        """The job behind an entry; None once it expired (or is unreadable)."""
        raw = self._state.call(self._redis.get, self.job_key(attempt_id))
        if raw is None:
            return None
        try:
            return ActivityJob.from_message(json.loads(raw))
        except (ValueError, MalformedJob):
            return None

    def reschedule(self, domain: str, task_list: str, attempt_id: str, *, due: float) -> None:
        """Next beat of a leased entry at ``due`` (only if it is still listed)."""
        key = self.queue_key(domain, task_list)
        self._state.call(self._redis.zadd, key, {attempt_id: due}, xx=True)

    def remove(self, domain: str, task_list: str, attempt_id: str) -> None:
        """Stop keeping an attempt alive (claimed, closed, past its deadline)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(self.queue_key(domain, task_list), attempt_id)
        pipe.delete(self.job_key(attempt_id))
        self._state.call(pipe.execute)

    def next_due(self, domain: str, task_list: str) -> float | None:
        """When the earliest entry of the task list is due (None: none listed)."""
        key = self.queue_key(domain, task_list)
        first = self._state.call(self._redis.zrange, key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def count(self, domain: str, task_list: str) -> int:
        """Entries listed for the task list (every poller's)."""
        zcard = self._redis.zcard
        return int(self._state.call(zcard, self.queue_key(domain, task_list)))
