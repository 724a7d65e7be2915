"""An attempt's start-to-close deadline: the one place its arithmetic and
its failures are written.

The poller turns the deadline into Celery's limits for the job (expiry, soft
and hard time limits, :func:`celery_limits`); the worker ends the activity a
margin before it (:func:`worker_deadline`), refuses to start a job with too
little time left (:func:`too_late_to_start`) and fails a job that reached it
(:func:`deadline_passed`). Pure functions: no Celery, no I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from swfbridge.wire.job import ActivityJob
from swfbridge.wire.outcome import BridgeCause, Failed, bridge_failure

HARD_LIMIT_SLACK_S = 10.0
"""Hard time limit beyond the deadline: a last resort that kills a pool child
whose activity ignored both the deadline and the soft limit."""


def celery_limits(job: ActivityJob) -> dict[str, Any]:
    """The ``send_task`` options that bound the job by its deadline (none without one)."""
    if job.deadline is None:
        return {}
    budget_s = max(1.0, job.deadline - job.polled_at)
    return {
        # Never run once SWF's start-to-close deadline has passed.
        "expires": dt.datetime.fromtimestamp(job.deadline, tz=dt.timezone.utc),
        "soft_time_limit": budget_s,
        "time_limit": budget_s + HARD_LIMIT_SLACK_S,
    }


def effective_margin_s(job: ActivityJob, *, margin_s: float) -> float:
    """How long before SWF's deadline the worker ends the activity: ``margin_s``,
    but at most a quarter of the time the task had (0 without a deadline)."""
    if job.deadline is None:
        return 0.0
    return min(margin_s, max(0.0, job.deadline - job.polled_at) / 4)


def worker_deadline(job: ActivityJob, *, margin_s: float) -> float | None:
    """When the worker ends the activity: SWF's deadline minus the effective margin
    (epoch s)."""
    if job.deadline is None:
        return None
    return job.deadline - effective_margin_s(job, margin_s=margin_s)


def too_late_to_start(
    job: ActivityJob, *, now: float, margin_s: float, min_time_left_s: float
) -> Failed | None:
    """The failure for a job with less than ``min_time_left_s`` before the worker's
    deadline (it waited too long in the queue); None if it may start."""
    deadline = worker_deadline(job, margin_s=margin_s)
    if deadline is None:
        return None
    left = deadline - now
    if left >= min_time_left_s:
        return None
    return deadline_passed(
        f"not started: {max(left, 0):.1f}s left before the start-to-close deadline (the job "
        f"waited too long in the queue)",
        stage="queued",
    )


def deadline_passed(message: str, *, stage: str | None = None) -> Failed:
    """The bridge failure for an attempt that reached its deadline, with the ``stage``
    it was in (``queued``, ``starting``, ``running``) when the worker knows it."""
    if stage is None:
        return bridge_failure(BridgeCause.DEADLINE_PASSED, message)
    return bridge_failure(BridgeCause.DEADLINE_PASSED, message, stage=stage)
