"""Handing polled tasks to Celery: one task message per attempt, through the
poll thread's own producer (:mod:`swfbridge.poller.producers`), sent as
``send_task`` would send it (:mod:`swfbridge.poller.sender`)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, Protocol

from celery import Celery

from swfbridge.activities.task_map import CeleryTaskMap
from swfbridge.errors import SwfBridgeError
from swfbridge.poller.brokerlook import find_in_redis_broker, is_redis_broker
from swfbridge.poller.mapped import JobRejected, mapped_publication
from swfbridge.poller.producers import ThreadProducers
from swfbridge.poller.sender import TaskSender
from swfbridge.poller.sqsping import is_sqs_connection, ping_sqs
from swfbridge.wire.deadlines import celery_limits
from swfbridge.wire.job import TASK_NAME, ActivityJob

log = logging.getLogger(__name__)

# Bound on the broker check made before a poll.
CHECK_TIMEOUT_S = 3.0

# Publish retries: bounded, a broker that is down must not hold a polled task for long.
_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0}

# Longest queue list read when looking for lost jobs (longer: looked at later).
MAX_LOOK_SCAN = 20_000


class PublishError(SwfBridgeError):
    """The job could not be handed to the broker."""


class JobNotPublishable(PublishError):
    """The job cannot be published at all (e.g. undecodable input for a mapped
    Celery task); ``failure`` is what to tell SWF."""

    def __init__(self, rejected: JobRejected) -> None:
        super().__init__(str(rejected))
        self.failure = rejected.failure


class Dispatcher(Protocol):
    """Where the poller sends jobs."""

    def publish(self, job: ActivityJob) -> None:
        """Send ``job``; raise :class:`PublishError` if the broker did not take it."""
        ...

    def check(self) -> None:
        """Raise :class:`PublishError` unless the broker answers now."""
        ...


class CeleryDispatcher:
    """Publishes jobs with ``send_task`` under the fixed task name.

    Args:
        app: The Celery app (only its broker connection is used; the poller
            never imports activity code for this).
        queue: Queue to publish to; None uses the app's default queue, the
            one a plain ``celery -A swfbridge worker`` consumes.
        task_map: Activity types run by existing Celery tasks: those are
            published under the mapped task's name, with relay callbacks
            (see :mod:`swfbridge.poller.mapped`).
    """

    def __init__(
        self, *, app: Celery, queue: str | None = None, task_map: CeleryTaskMap | None = None
    ) -> None:
        self.app = app
        self.queue = queue
        self.task_map = task_map
        self._producers = ThreadProducers(app)
        self._sender = TaskSender(app, retry_policy=_RETRY_POLICY)
        conf = getattr(app, "conf", None)
        self._redis_broker = is_redis_broker(getattr(conf, "broker_url", None))

    def recoverable(self, job: ActivityJob) -> bool:
        """True when a lost message of ``job`` can be told and published again safely.

        Only jobs run by ``swfbridge.run_activity`` (a worker claims them, so a
        second copy never runs twice) on a Redis broker (whose queues
        :meth:`in_broker` can look into). A mapped Celery task takes no claim.
        """
        if not self._redis_broker:
            return False
        return self.task_map is None or (
            self.task_map.get(job.activity_name, job.activity_version) is None
        )

    def in_broker(self, attempt_ids: Collection[str]) -> set[str] | None:
        """Which of ``attempt_ids`` the broker still holds (queued, or taken and
        not acknowledged); None: cannot tell now.

        Raises:
            PublishError: the broker cannot be reached.
        """
        queue = self.queue or self.app.conf.task_default_queue
        try:
            pool: Any = self.app.pool
            with pool.acquire(block=True, timeout=CHECK_TIMEOUT_S) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT_S)
                return find_in_redis_broker(
                    conn.default_channel, queue, attempt_ids, max_scan=MAX_LOOK_SCAN
                )
        except Exception as exc:  # kombu/redis errors vary
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc

    def check(self) -> None:
        """Raise :class:`PublishError` unless the broker answers now.

        The poller calls this before a poll unless a publish succeeded within
        the last ``PollerConfig.readiness_fresh_s``: a task it cannot enqueue
        is better left in SWF, where its clocks have not started.
        """
        try:
            pool: Any = self.app.pool  # a connection pool (the stubs say producers)
            with pool.acquire(block=True, timeout=CHECK_TIMEOUT_S) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT_S)
                channel = conn.default_channel
                client = getattr(channel, "client", None)
                if client is not None:  # Redis: a pooled connection may be stale
                    client.ping()
                elif is_sqs_connection(conn):  # SQS: no connection to test otherwise
                    ping_sqs(channel, self.queue or self.app.conf.task_default_queue)
        except Exception as exc:  # kombu/redis/amqp errors vary by transport
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc

    def publish(self, job: ActivityJob) -> None:
        options: dict[str, Any] = {
            "task_id": job.attempt_id,
            "serializer": "json",
            "retry": True,
            "retry_policy": dict(_RETRY_POLICY),
        }
        if self.queue is not None:
            options["queue"] = self.queue
        options.update(celery_limits(job))
        task_name, args, kwargs = TASK_NAME, [job.to_message()], {}
        route = (
            self.task_map.get(job.activity_name, job.activity_version)
            if self.task_map is not None
            else None
        )
        if route is not None:
            try:
                mapped = mapped_publication(job, route, queue=self.queue)
            except JobRejected as exc:
                raise JobNotPublishable(exc) from exc
            task_name, args, kwargs = mapped.task, mapped.args, mapped.kwargs
            options.update(mapped.options)
        # What Celery shows in logs, events and Flower instead of the arguments:
        # they hold the task token (a secret) and the input.
        options["argsrepr"] = f"<{job.log_context()}>"
        options["kwargsrepr"] = "{}"
        # Celery prints the raw body (its first 1024 characters) when it refuses a
        # message (unregistered task, undecodable, content type not accepted):
        # compressed, with the token last, that print never holds the token.
        options["compression"] = "zlib"
        try:
            producer = self._producers.get()
            if self._sender.usable(task_name):
                self._sender.send(
                    producer,
                    task_name,
                    task_id=job.attempt_id,
                    args=args,
                    kwargs=kwargs,
                    queue=options.get("queue"),
                    options=options,
                )
            else:
                self.app.send_task(
                    task_name, args=args, kwargs=kwargs, producer=producer, **options
                )
        except Exception as exc:  # kombu/redis/amqp errors vary by transport
            self._producers.discard()
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc
