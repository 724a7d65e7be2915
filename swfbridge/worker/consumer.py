"""The worker's task consumer on Redis: one ``redis.Redis`` client, not one per call.

kombu's Redis channel builds a new ``redis.Redis`` client (on its shared
connection pool) for every command it sends outside the consumer's BRPOP
(``Channel.conn_or_acquire``), and a client's constructor fills a table of
some 170 reply callbacks: about 0.13 ms of CPU on the benchmark machine. With
``acks_late`` every job costs the worker's main process two of them, one to
record the message as unacknowledged (``QoS.append``) and one to acknowledge
it (``QoS.ack``). :class:`OneRedisClient`, a consumer bootstep that
:func:`swfbridge.install` adds, makes the task consumer's channel use one
client for all of them. Commands, connections and the unacknowledged-message
bookkeeping (hence redelivery) are unchanged: redis-py clients are
thread-safe and take a connection from the pool for each command, as before.

The step runs again whenever the consumer restarts (a broker reconnect opens
a new channel). Channels of other transports are left as they are.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

from swfbridge.kombu_redis import reuse_one_client


class OneRedisClient(bootsteps.StartStopStep):
    """Consumer bootstep: the task consumer's Redis channel reuses one client."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c: Any) -> None:
        consumer = getattr(c, "task_consumer", None)
        if consumer is not None:
            reuse_one_client(consumer.channel)
