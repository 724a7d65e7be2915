"""An attempt's deadline: Celery's limits, the worker's own deadline, too late to start."""

from __future__ import annotations

import dataclasses
import json

from swfbridge.wire.deadlines import (
    HARD_LIMIT_SLACK_S,
    celery_limits,
    too_late_to_start,
    worker_deadline,
)
from tests.support.jobs import make_job

JOB = make_job(activity_id="a1", started_event_id=3, polled_at=1000.0, deadline=1060.0)


def test_celery_limits_expire_the_job_at_the_deadline_and_kill_it_after_a_slack() -> None:
    limits = celery_limits(JOB)

    assert limits["expires"].timestamp() == 1060.0
    assert limits["soft_time_limit"] == 60.0
    assert limits["time_limit"] == 60.0 + HARD_LIMIT_SLACK_S


def test_a_job_without_a_deadline_gets_no_limits_and_no_worker_deadline() -> None:
    job = dataclasses.replace(JOB, deadline=None)

    assert celery_limits(job) == {}
    assert worker_deadline(job, margin_s=2.0) is None
    assert too_late_to_start(job, now=5000.0, margin_s=2.0, min_time_left_s=1.0) is None


def test_the_worker_margin_is_at_most_a_quarter_of_the_time_the_task_had() -> None:
    short = dataclasses.replace(JOB, deadline=1004.0)

    assert worker_deadline(JOB, margin_s=2.0) == 1058.0
    assert worker_deadline(short, margin_s=2.0) == 1003.0


def test_a_job_with_too_little_time_left_fails_as_queued_too_long() -> None:
    failure = too_late_to_start(JOB, now=1057.5, margin_s=2.0, min_time_left_s=1.0)

    assert failure is not None and "waited too long in the queue" in failure.reason
    assert failure.details is not None
    assert json.loads(failure.details)["stage"] == "queued"
    assert too_late_to_start(JOB, now=1050.0, margin_s=2.0, min_time_left_s=1.0) is None
