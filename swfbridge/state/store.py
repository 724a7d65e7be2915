"""Shared bridge state in Redis: capacity slots and per-attempt claims.

Two small structures, shared by every poller and worker of a task list:

* **Slots** — a sorted set per (domain, task list) whose members are the
  attempts dispatched but not finished, scored by the epoch second after
  which the entry no longer counts. A poller takes a slot *before* it polls
  (a placeholder scored at the end of the long-poll window), turns it into the
  attempt's id when a task arrives (scored at the SWF deadline plus a grace),
  and gives it back when the poll was empty. The worker removes the attempt
  once its outcome is reported. Entries past their score are pruned on every
  reservation, so the slots of a worker killed -9 come back by themselves at
  the deadline.
* **Claims** — ``SET claim:<attempt id> NX PX <until the deadline>``, taken
  by the worker before it runs an attempt. A redelivered copy of the message
  (Redis visibility timeout, RabbitMQ consumer_timeout, a worker restart)
  finds the claim taken and is dropped without responding to SWF.

No environment reads here: the CLI and ``swfbridge.celery`` build the config.
"""

from __future__ import annotations

import enum
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError, SwfBridgeError

MAX_CLAIM_TTL_S = 400 * 24 * 3600.0
"""Longest a claim lives, whatever the deadline (longer than any SWF time-out)."""

log = logging.getLogger(__name__)

# Atomically: drop expired entries, and add ``member`` only if fewer than
# ``limit`` remain. Returns 1 when the slot was taken.
_RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  return 1
end
return 0
"""

# Atomically free a slot and, if it was held, leave a wake-up for one poll
# thread waiting for a slot (BLPOP on KEYS[2]). The list is bounded and expires:
# tokens nobody waited for only cost a waiter one extra reservation attempt.
_RELEASE = """
local freed = redis.call('ZREM', KEYS[1], ARGV[1])
if freed == 1 then
  redis.call('LPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return freed
"""

# Wake-ups kept for waiters at most, and how long an unread one lives.
_WAKE_TOKENS_MAX = 16
_WAKE_TOKENS_TTL_MS = 60_000

# Atomically replace a placeholder with the attempt id (same slot).
_BIND = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
"""


# Claim an attempt (SET NX PX) and, when taken, take it off the queued-job
# lists (keepalive beats, loss checks): one round trip for both. Returns 2 when
# taken and the attempt holds a capacity slot (KEYS[5]), 1 when taken without.
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('ZREM', KEYS[3], ARGV[3])
  redis.call('DEL', KEYS[4])
  if redis.call('ZSCORE', KEYS[5], ARGV[3]) then
    return 2
  end
  return 1
end
return 0
"""

# Extend a claim only if its holder still owns it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class Claim(enum.Enum):
    """What :meth:`BridgeState.claim_attempt` found."""

    REFUSED = "refused"
    """Another delivery of the attempt holds the claim."""
    TAKEN = "taken"
    """Claimed; the attempt holds no capacity slot (no poller limits capacity)."""
    TAKEN_WITH_SLOT = "taken_with_slot"
    """Claimed; the attempt holds a capacity slot, to free once it is reported."""


class StateUnavailable(SwfBridgeError):
    """The Redis that holds slots and claims cannot be reached."""


def state_url(explicit: str | None, broker_url: Any) -> str | None:
    """Where slots and claims live: ``explicit`` if given, else the broker when
    it is a Redis (``redis://``, ``rediss://``), else nowhere (None)."""
    if explicit:
        return explicit
    if isinstance(broker_url, str) and broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    return None


@dataclass(frozen=True)
class StateConfig:
    """Where and how slots and claims are kept.

    Args:
        url: Redis URL (``redis://host:port/db``); may be the broker's own.
        key_prefix: Prefix of every key, so several fleets can share a Redis.
        deadline_grace_s: How long past an attempt's SWF deadline its slot and
            claim still count (the worker's hard time limit fires after it).
        no_deadline_ttl_s: Lifetime of the slot and claim of an attempt with no
            start-to-close timeout.
        socket_timeout_s: Bound on every Redis call.
    """

    url: str
    key_prefix: str = "swfbridge"
    deadline_grace_s: float = 15.0
    no_deadline_ttl_s: float = 3600.0
    socket_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError(
                f"state URL must be a Redis URL, got {self.url.split(':')[0]}://…"
            )
        check_seconds("deadline_grace_s", self.deadline_grace_s)
        check_seconds("no_deadline_ttl_s", self.no_deadline_ttl_s, allow_zero=False)
        check_seconds("socket_timeout_s", self.socket_timeout_s, allow_zero=False)


class BridgeState:
    """Slots and claims for one fleet, in Redis.

    Args:
        config: Where the state lives.
        clock: Wall clock (epoch seconds); deadlines are wall-clock times.
        client: A ready Redis client (tests); built from ``config.url`` if None.
    """

    def __init__(
        self,
        *,
        config: StateConfig,
        clock: Callable[[], float] = time.time,
        client: Any = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._redis: Any = client or redis.Redis.from_url(
            config.url,
            socket_timeout=config.socket_timeout_s,
            socket_connect_timeout=config.socket_timeout_s,
        )
        self._reserve = self._redis.register_script(_RESERVE)
        self._bind = self._redis.register_script(_BIND)
        self._release = self._redis.register_script(_RELEASE)
        self._claim = self._redis.register_script(_CLAIM)

    # --- keys ----------------------------------------------------------------

    def slots_key(self, domain: str, task_list: str) -> str:
        return f"{self.config.key_prefix}:slots:{domain}:{task_list}"

    def wake_key(self, domain: str, task_list: str) -> str:
        return f"{self.config.key_prefix}:slot-freed:{domain}:{task_list}"

    def claim_key(self, attempt_id: str) -> str:
        return f"{self.config.key_prefix}:claim:{attempt_id}"

    def beats_key(self, domain: str, task_list: str) -> str:
        """Queued jobs due a keepalive heartbeat (:mod:`swfbridge.state.queued`)."""
        return f"{self.config.key_prefix}:queued:{domain}:{task_list}"

    def checks_key(self, domain: str, task_list: str) -> str:
        """Queued jobs due a look in the broker (:mod:`swfbridge.state.queued`)."""
        return f"{self.config.key_prefix}:unclaimed:{domain}:{task_list}"

    def queued_job_key(self, attempt_id: str) -> str:
        """A queued job, input included (:mod:`swfbridge.state.queued`)."""
        return f"{self.config.key_prefix}:queued-job:{attempt_id}"

    def expiry_for(self, deadline: float | None) -> float:
        """Epoch second after which an attempt with this deadline stops counting."""
        if deadline is None:
            return self._clock() + self.config.no_deadline_ttl_s
        return deadline + self.config.deadline_grace_s

    # --- slots ---------------------------------------------------------------

    def reserve(self, domain: str, task_list: str, *, limit: int, hold_s: float) -> str | None:
        """Take a slot for a poll about to be made.

        Args:
            domain: SWF domain.
            task_list: SWF task list.
            limit: Most attempts in flight at once for this task list.
            hold_s: How long the placeholder counts if it is never bound or
                released (the poller died mid-poll): the long-poll window.

        Returns:
            The placeholder's id, or None when every slot is taken.

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        placeholder = f"poll:{uuid.uuid4().hex}"
        now = self._clock()
        taken = self._run(
            self._reserve,
            keys=[self.slots_key(domain, task_list)],
            args=[now, limit, now + hold_s, placeholder],
        )
        return placeholder if taken == 1 else None

    def reserve_on(
        self, pipeline: Any, domain: str, task_list: str, *, limit: int, hold_s: float
    ) -> str:
        """Queue a :meth:`reserve` on ``pipeline`` (of :attr:`client`), run with the
        caller's other writes in one round trip.

        Returns:
            The placeholder's id: taken if the pipeline's reply for it is 1.
        """
        placeholder = f"poll:{uuid.uuid4().hex}"
        now = self._clock()
        # EVAL (see bind): a registered script costs the pipeline a SCRIPT EXISTS.
        pipeline.eval(
            _RESERVE, 1, self.slots_key(domain, task_list), now, limit, now + hold_s, placeholder
        )
        return placeholder

    def bind(
        self,
        domain: str,
        task_list: str,
        placeholder: str,
        *,
        attempt_id: str,
        deadline: float | None,
        pipeline: Any = None,
    ) -> None:
        """Turn a placeholder into the slot of the attempt its poll delivered.

        Given a ``pipeline`` of :attr:`client`, the change is only queued on it
        (the caller executes it with its other writes, in one round trip).

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        keys = [self.slots_key(domain, task_list)]
        args: list[Any] = [placeholder, self.expiry_for(deadline), attempt_id]
        if pipeline is not None:
            # EVAL, not the registered script: redis-py checks a pipeline's
            # scripts with SCRIPT EXISTS first, one more round trip per task.
            pipeline.eval(_BIND, len(keys), *keys, *args)
            return
        self._run(self._bind, keys=keys, args=args)

    def release(self, domain: str, task_list: str, member: str) -> None:
        """Give a slot back (a placeholder after an empty poll, or a finished attempt),
        waking one poll thread that waits for a slot (:meth:`wait_for_free`).

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        self._run(
            self._release,
            keys=[self.slots_key(domain, task_list), self.wake_key(domain, task_list)],
            args=[member, _WAKE_TOKENS_MAX, _WAKE_TOKENS_TTL_MS],
        )

    def wait_for_free(self, domain: str, task_list: str, *, timeout_s: float) -> bool:
        """Block until a slot of this task list is freed, or ``timeout_s`` passes.

        True when a release woke this caller (the slot may have been taken
        meanwhile: reserve again). Slots that expire by themselves wake nobody,
        so waiters also look again at each timeout.

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        # BLPOP's timeout is in seconds, at millisecond resolution (Redis >= 6).
        timeout = max(0.001, round(timeout_s, 3))
        woken = self._call(self._redis.blpop, [self.wake_key(domain, task_list)], timeout)
        return woken is not None

    def in_flight(self, domain: str, task_list: str) -> int:
        """Slots taken now (expired entries not counted).

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        key = self.slots_key(domain, task_list)
        return int(self._call(self._redis.zcount, key, f"({self._clock()}", "+inf"))

    def holds(self, domain: str, task_list: str, member: str) -> bool:
        """True while ``member`` still has an unexpired slot.

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        score = self._call(self._redis.zscore, self.slots_key(domain, task_list), member)
        return score is not None and float(score) > self._clock()

    # --- claims --------------------------------------------------------------

    def claim(
        self,
        attempt_id: str,
        *,
        deadline: float | None,
        owner: str,
        domain: str | None = None,
        task_list: str | None = None,
    ) -> bool:
        """Claim an attempt before running it. False: someone already has.

        The claim is never released early: it expires after the deadline, so
        a copy redelivered after the first run finished is dropped too. Given
        the attempt's ``domain`` and ``task_list``, a claim taken also ends
        the pollers' care for the queued job (its keepalive beats and the
        checks that the broker still holds it), in the same round trip.

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        if domain is None or task_list is None:
            return bool(
                self._call(
                    self._redis.set,
                    self.claim_key(attempt_id),
                    owner,
                    nx=True,
                    px=self._claim_ttl_ms(deadline),
                )
            )
        found = self.claim_attempt(
            attempt_id, deadline=deadline, owner=owner, domain=domain, task_list=task_list
        )
        return found is not Claim.REFUSED

    def claim_attempt(
        self, attempt_id: str, *, deadline: float | None, owner: str, domain: str, task_list: str
    ) -> Claim:
        """:meth:`claim`, saying too whether the attempt holds a capacity slot.

        The slot is bound before the job is published, so a claimed attempt
        that holds none has none to free: its worker skips the release (one
        round trip) when no poller of the task list limits capacity.

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        keys = [
            self.claim_key(attempt_id),
            self.beats_key(domain, task_list),
            self.checks_key(domain, task_list),
            self.queued_job_key(attempt_id),
            self.slots_key(domain, task_list),
        ]
        reply = self._run(
            self._claim, keys=keys, args=[owner, self._claim_ttl_ms(deadline), attempt_id]
        )
        return {1: Claim.TAKEN, 2: Claim.TAKEN_WITH_SLOT}.get(int(reply), Claim.REFUSED)

    def _claim_ttl_ms(self, deadline: float | None) -> int:
        ttl_s = min(self.expiry_for(deadline) - self._clock(), MAX_CLAIM_TTL_S)
        return max(1000, math.ceil(ttl_s * 1000))  # within Redis's PX range, always

    def renew_claim(self, attempt_id: str, *, owner: str) -> bool:
        """Push the claim of an attempt with no deadline ``no_deadline_ttl_s`` on.

        A running job is redelivered every visibility timeout on Redis; while
        its claim lives, the copies are dropped. False: ``owner`` no longer
        holds it.

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        ttl_ms = max(1000, math.ceil(self.config.no_deadline_ttl_s * 1000))
        key = self.claim_key(attempt_id)
        # Registered here, not in __init__: called every 20 minutes at most.
        script = self._redis.register_script(_RENEW)
        return bool(self._run(script, keys=[key], args=[owner, ttl_ms]))

    def claim_owner(self, attempt_id: str) -> str | None:
        """Who holds the attempt's claim (None: nobody).

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        owner = self._call(self._redis.get, self.claim_key(attempt_id))
        return owner.decode() if isinstance(owner, bytes) else owner

    def claimed(self, attempt_id: str) -> bool:
        """True once a worker has claimed the attempt (it has started).

        Raises:
            StateUnavailable: Redis cannot be reached.
        """
        return bool(self._call(self._redis.exists, self.claim_key(attempt_id)))

    @property
    def client(self) -> Any:
        """The Redis client, for other shared structures (:mod:`swfbridge.state.queued`)."""
        return self._redis

    def ping(self) -> None:
        """Raises :class:`StateUnavailable` unless Redis answers."""
        self._call(self._redis.ping)

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a Redis command or script of :attr:`client`; errors as :class:`StateUnavailable`."""
        return self._call(fn, *args, **kwargs)

    def _run(self, script: Any, *, keys: list[str], args: list[Any]) -> Any:
        return self._call(script, keys=keys, args=args)

    @staticmethod
    def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise StateUnavailable(f"bridge state (Redis) unavailable: {exc}") from exc


def free_slot(
    state: BridgeState, domain: str, task_list: str, member: str, *, log_context: str = ""
) -> bool:
    """Give a slot back, never raising: the one way poller and worker free slots.

    A slot that cannot be freed now (Redis down) expires by itself: a
    placeholder at the end of its poll window, an attempt at its deadline plus
    the grace. Returns True if it was freed.
    """
    try:
        state.release(domain, task_list, member)
    except StateUnavailable as exc:
        log.warning(
            "could not free a slot (%s); it expires by itself%s",
            exc,
            f": {log_context}" if log_context else "",
        )
        return False
    return True
