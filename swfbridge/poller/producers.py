"""One Celery producer per poll thread, kept for the life of the thread.

``send_task`` without a producer takes one from the app's pool and gives it
back on every call; on kombu's Redis transport each publish also builds a new
``redis.Redis`` client (``Channel.conn_or_acquire``), whose constructor alone
costs about 0.07 ms of CPU. A poll thread publishes one job at a time, so it
keeps its own producer, and its channel reuses one client (redis-py clients
reconnect by themselves). Measured in BENCHMARKS.md ("The poller's CPU per
task"): about a third of ``send_task``'s CPU.

A producer whose publish failed goes back to the pool, as ``send_task``'s
own would, and the thread's next publish takes one from the pool again (a
channel kombu revived after a reconnect gets the one-client treatment anew).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from celery import Celery

from swfbridge.kombu_redis import reuse_one_client

# Longest wait for a producer from the app's pool.
ACQUIRE_TIMEOUT_S = 5.0


class ThreadProducers:
    """Hands each thread its own producer from ``app``'s producer pool.

    Args:
        app: The Celery app whose broker the producers publish to.
    """

    def __init__(self, app: Celery) -> None:
        self._app = app
        self._local = threading.local()

    def get(self) -> Any:
        """This thread's producer (acquired from the pool on first use)."""
        producer = getattr(self._local, "producer", None)
        if producer is None:
            pool: Any = self._app.producer_pool
            # Bounded where kombu allows: more producers than the pool's limit
            # fail the publish after this wait. kombu's own wait for the
            # producer's connection has no bound, which is why `swfbridge poll`
            # refuses more poll threads than Celery's pool of 10 holds.
            producer = pool.acquire(block=True, timeout=ACQUIRE_TIMEOUT_S)
            self._local.producer = producer
            self._local.channel = None
        channel = producer.channel
        if channel is not self._local.channel:  # new, or revived after a reconnect
            reuse_one_client(channel)
            self._local.channel = channel
        return producer

    def discard(self) -> None:
        """Give this thread's producer back (its publish failed); the next get() takes one again."""
        producer = getattr(self._local, "producer", None)
        self._local.producer = None
        self._local.channel = None
        if producer is not None:
            with contextlib.suppress(Exception):  # it is broken already
                producer.release()
