"""kombu's Redis channel sending through one ``redis.Redis`` client, not one per call.

kombu's Redis channel builds a new client (on its shared connection pool) for
every command it sends outside the consumer's BRPOP
(``Channel.conn_or_acquire``), and a client's constructor fills a table of
some 170 reply callbacks: 0.07-0.13 ms of CPU on the benchmark machine. The
poller's publishes (:mod:`swfbridge.poller.producers`) and the worker's
acknowledgement bookkeeping (:mod:`swfbridge.worker.consumer`) both make one
client per channel instead. redis-py clients are thread-safe and take a
connection from the pool for each command, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def reuse_one_client(channel: Any) -> bool:
    """Make a kombu Redis ``channel`` send through one client; False (and
    nothing changed) if it is not a kombu Redis channel."""
    create = getattr(channel, "_create_client", None)
    if create is None or not hasattr(channel, "conn_or_acquire"):
        return False
    shared = create()

    @contextlib.contextmanager
    def conn_or_acquire(client: Any = None) -> Iterator[Any]:  # kombu passes it by keyword too
        yield client or shared

    channel.conn_or_acquire = conn_or_acquire
    return True
