"""Broker settings that break "one attempt runs once", found at worker start.

Pure: takes the Celery settings and the activities' start-to-close timeouts,
returns one warning per unsafe setting. The rule on Redis: jobs reserved by a
worker that dies must come back (visibility timeout + kombu's sweep) before the
shortest start-to-close runs out; the claims make the copies of running jobs
harmless. ``install`` logs them when a worker
starts; the operator-facing explanation is in docs/reliability.rst.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from swfbridge.activities.registry import ActivityRegistry

# Celery's default Redis visibility timeout, and RabbitMQ's default consumer_timeout.
REDIS_DEFAULT_VISIBILITY_TIMEOUT_S = 3600.0
RABBITMQ_DEFAULT_CONSUMER_TIMEOUT_S = 1800.0
# kombu's defaults for its sweep of unacknowledged messages: every 10 s, but
# it scans only on every 10th call, so a sweep runs about every 100 s.
KOMBU_DEFAULT_RESTORE_INTERVAL_S = 10.0
KOMBU_DEFAULT_RESTORE_THROTTLE = 10

REDIS_REDELIVERY_OPTIONS: dict[str, Any] = {
    "visibility_timeout": 10,
    "unacked_restore_interval": 2,
    "unacked_restore_throttle": 1,
}
"""Redis transport options swfbridge applies unless the app sets them.

A short visibility timeout brings back, within about 12 s, the jobs a worker
had reserved but not started when it died or lost its connection, before SWF
times them out (activities with a start-to-close of 15 s included; 30 s + 5 s
lost such jobs in the soak). It also redelivers every *running* job each 10 s;
the claim (:mod:`swfbridge.state.store`) drops those copies without a
response, on a worker with a free process (one whose processes are all busy
takes no new message). The sweep must run often for the timeout to mean
anything (kombu's defaults sweep every ~100 s).
"""


def redis_redelivery_s(options: Mapping[str, Any]) -> float:
    """Longest wait before kombu's Redis transport gives a dead consumer's
    unacknowledged message to another worker, under ``options``."""
    visibility = float(options.get("visibility_timeout", REDIS_DEFAULT_VISIBILITY_TIMEOUT_S))
    interval = float(options.get("unacked_restore_interval", KOMBU_DEFAULT_RESTORE_INTERVAL_S))
    if interval <= 0:  # kombu falls back to its default
        interval = KOMBU_DEFAULT_RESTORE_INTERVAL_S
    throttle = int(options.get("unacked_restore_throttle", KOMBU_DEFAULT_RESTORE_THROTTLE)) or 1
    return visibility + interval * throttle


def apply_redelivery_defaults(conf: Any) -> None:
    """Set :data:`REDIS_REDELIVERY_OPTIONS` on a Redis-brokered app's settings,
    keeping every option the app set itself."""
    url = str(conf.get("broker_url") or "")
    if not url.startswith(("redis://", "rediss://", "sentinel://")):
        return
    options = dict(conf.get("broker_transport_options") or {})
    merged = {**REDIS_REDELIVERY_OPTIONS, **options}
    if merged != options:
        conf["broker_transport_options"] = merged


def shortest_start_to_close_s(registry: ActivityRegistry) -> float | None:
    """The shortest start-to-close timeout among registered activities (None: none set)."""
    values = [
        e.options.start_to_close_s for e in registry if e.options.start_to_close_s is not None
    ]
    return min(values) if values else None


def longest_start_to_close_s(registry: ActivityRegistry) -> float | None:
    """The longest start-to-close timeout among registered activities (None: none set)."""
    values = [
        e.options.start_to_close_s for e in registry if e.options.start_to_close_s is not None
    ]
    return max(values) if values else None


def broker_warnings(
    conf: Mapping[str, Any],
    *,
    longest_start_to_close_s: float | None,
    shortest_start_to_close_s: float | None = None,
    has_unbounded_activity: bool = False,
    has_claims: bool = True,
) -> list[str]:
    """Warnings about settings under which an attempt may run twice or time out queued.

    Args:
        conf: The Celery app's settings (``app.conf``).
        longest_start_to_close_s: The longest start-to-close of the activities
            this worker runs, in seconds (None if none has one).
        shortest_start_to_close_s: The shortest one (None if none has one).
        has_unbounded_activity: Some activity has no start-to-close timeout.
        has_claims: Attempt claims are kept (a state store is configured).

    Returns:
        One human-readable line per unsafe setting; empty when all are safe.
    """
    warnings: list[str] = []
    url = str(conf.get("broker_url") or "")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    options = conf.get("broker_transport_options") or {}
    longest = longest_start_to_close_s
    if scheme in ("redis", "rediss", "sentinel"):
        visibility = float(options.get("visibility_timeout", REDIS_DEFAULT_VISIBILITY_TIMEOUT_S))
        redelivery = redis_redelivery_s(options)
        shortest = shortest_start_to_close_s
        if not has_claims and (
            has_unbounded_activity or (longest is not None and visibility < longest)
        ):
            warnings.append(
                f"no state store holds attempt claims: a job running longer than the Redis "
                f"visibility_timeout ({visibility:.0f}s) runs again on another worker; set "
                f"SWFBRIDGE_STATE_URL to a Redis"
            )
        if shortest is not None and redelivery >= shortest:
            warnings.append(
                f"Redis redelivers the jobs of a dead worker after up to {redelivery:.0f}s "
                f"(visibility_timeout + unacked_restore_interval x unacked_restore_throttle), "
                f"past the shortest start-to-close timeout ({shortest:.0f}s): SWF times them "
                f"out first; set broker_transport_options={{'visibility_timeout': "
                f"{max(1, int(shortest / 3))}, 'unacked_restore_interval': 1, "
                f"'unacked_restore_throttle': 1}} or remove your values"
            )
    if scheme in ("amqp", "amqps", "pyamqp") and (
        has_unbounded_activity
        or (longest is not None and longest >= RABBITMQ_DEFAULT_CONSUMER_TIMEOUT_S)
    ):
        shown = "unbounded" if has_unbounded_activity else f"{longest:.0f}s"
        warnings.append(
            f"the longest start-to-close timeout ({shown}) reaches RabbitMQ's default "
            f"consumer_timeout ({RABBITMQ_DEFAULT_CONSUMER_TIMEOUT_S:.0f}s): make sure the "
            f"server's consumer_timeout is longer, or RabbitMQ closes the channel and "
            f"redelivers running jobs"
        )
    prefetch = conf.get("worker_prefetch_multiplier")
    if isinstance(prefetch, int) and prefetch != 1:
        warnings.append(
            f"worker_prefetch_multiplier is {prefetch}: jobs reserved by a busy worker wait "
            f"while their SWF clocks run; use 1"
        )
    accepted: Iterable[Any] = conf.get("accept_content") or ()
    if any("pickle" in str(kind) for kind in accepted):
        warnings.append(
            "accept_content includes pickle: a message on the broker can run code in the "
            "worker; swfbridge sends JSON only, accept ['json']"
        )
    return warnings
