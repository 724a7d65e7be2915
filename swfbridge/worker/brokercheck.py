"""Broker settings that break "one attempt runs once", found at worker start.

Pure: takes the Celery settings and the activities' longest start-to-close,
returns one warning per unsafe setting. ``install`` logs them when a worker
starts; the operator-facing explanation is in docs/reliability.rst.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from swfbridge.activities.registry import ActivityRegistry

# Celery's default Redis visibility timeout, and RabbitMQ's default consumer_timeout.
REDIS_DEFAULT_VISIBILITY_TIMEOUT_S = 3600.0
RABBITMQ_DEFAULT_CONSUMER_TIMEOUT_S = 1800.0


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
    has_unbounded_activity: bool = False,
) -> list[str]:
    """Warnings about settings under which an attempt may run twice or time out queued.

    Args:
        conf: The Celery app's settings (``app.conf``).
        longest_start_to_close_s: The longest start-to-close of the activities
            this worker runs, in seconds (None if none has one).
        has_unbounded_activity: Some activity has no start-to-close timeout.

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
        if has_unbounded_activity:
            warnings.append(
                f"an activity has no start-to-close timeout: a job running longer than the "
                f"Redis visibility_timeout ({visibility:.0f}s) is redelivered; the claim "
                f"drops the copy, but set a start-to-close timeout"
            )
        if longest is not None and visibility < longest:
            warnings.append(
                f"Redis visibility_timeout ({visibility:.0f}s) is shorter than the longest "
                f"start-to-close timeout ({longest:.0f}s): long jobs are redelivered while "
                f"running; set broker_transport_options={{'visibility_timeout': "
                f"{int(longest) + 60}}} or more"
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
