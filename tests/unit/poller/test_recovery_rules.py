"""When queued jobs are looked for in the broker, and which brokers can be looked into."""

from __future__ import annotations

import dataclasses

import pytest

from swfbridge.activities.task_map import CeleryTaskMap
from swfbridge.errors import ConfigurationError
from swfbridge.poller.brokerlook import is_redis_broker
from swfbridge.poller.build import celery_dispatcher
from swfbridge.poller.recovery import RecoveryConfig
from swfbridge.wire.job import ActivityJob
from tests.support.jobs import make_job


def _job(start_to_close_s: float | None) -> ActivityJob:
    return make_job(
        polled_at=1000.0,
        deadline=None if start_to_close_s is None else 1000.0 + start_to_close_s,
    )


@pytest.mark.parametrize(
    ("start_to_close_s", "interval_s"),
    [
        (300.0, 30.0),  # a tenth of the start-to-close
        (20.0, 5.0),  # never more often than every 5 s
        (7200.0, 60.0),  # never less often than every minute
        (None, 60.0),  # no deadline: every minute
    ],
)
def test_a_job_is_looked_for_every_tenth_of_its_start_to_close_within_bounds(
    start_to_close_s: float | None, interval_s: float
) -> None:
    assert RecoveryConfig().interval_for(_job(start_to_close_s)) == interval_s


def test_bounds_that_cross_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="max_interval_s"):
        RecoveryConfig(min_interval_s=10, max_interval_s=5)


@pytest.mark.parametrize(
    ("url", "redis"),
    [
        ("redis://localhost:6379/0", True),
        ("rediss://host:6380/0", True),
        ("redis+socket:///tmp/redis.sock", True),
        ("redis://a:6379/0;redis://b:6379/0", True),
        (["redis://a:6379/0", "redis://b:6379/0"], True),
        ("amqp://guest@localhost//", False),
        ("sqs://", False),
        ("filesystem://", False),
        (None, False),
    ],
)
def test_only_redis_brokers_can_be_looked_into(url: object, redis: bool) -> None:
    assert is_redis_broker(url) is redis


@pytest.mark.parametrize(
    ("broker", "activity", "looked_after"),
    [
        ("redis://127.0.0.1:1/0", "A", True),
        ("redis://127.0.0.1:1/0", "Mapped", False),  # an existing Celery task: no claim
        ("amqp://guest@127.0.0.1:1//", "A", False),  # RabbitMQ keeps taken messages
    ],
)
def test_only_claimed_jobs_on_a_redis_broker_are_looked_after(
    broker: str, activity: str, looked_after: bool
) -> None:
    dispatcher = celery_dispatcher(
        broker, task_map=CeleryTaskMap({("Mapped", "1"): "shop.tasks.mapped"})
    )
    job = dataclasses.replace(_job(60.0), activity_name=activity)
    assert dispatcher.recoverable(job) is looked_after
