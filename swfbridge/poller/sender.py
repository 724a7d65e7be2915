"""Sending one Celery task message the way ``app.send_task`` does, without its
per-call overhead.

``send_task`` works out, for every message, things that do not change from one
job to the next on a poller: the route to the queue, the merged retry policy,
the origin node name, whether the queue still needs declaring (kombu copies and
binds the queue object each time just to find it cached). Measured in
BENCHMARKS.md ("The bridge's cost per task"), that is about a third of the
publish's CPU. :class:`TaskSender` works them out once, builds the message
with Celery's own ``amqp.as_task_v2`` (protocol 2) and publishes it with kombu's
``Producer.publish``: same headers, properties, body, exchange, routing key,
serializer, compression and retry as ``send_task`` (a test compares the two).

Only the plain set-up takes this path: protocol 2, no ``task_routes``, no
result backend, no task-sent events, no publish signal receivers, and a task
name this app does not register. Anything else goes through ``send_task``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from typing import Any

from celery import Celery, signals
from celery.backends.base import DisabledBackend
from celery.utils.nodenames import anon_nodename
from kombu.common import Broadcast


class TaskSender:
    """Sends task messages through a producer, as ``app.send_task`` would.

    Args:
        app: The publish-only Celery app whose broker the messages go to.
        retry_policy: Publish retry options (merged over the app's default,
            as ``send_task`` merges them).
    """

    def __init__(self, app: Celery, *, retry_policy: dict[str, Any]) -> None:
        self._app: Any = app  # private parts of Celery (as send_task uses them), untyped
        self._retry_policy = retry_policy
        self._plain: bool | None = None  # worked out at the first send (the app is configured)
        self._destinations: dict[str | None, tuple[Any, Any, str, Any]] = {}
        self._origin: tuple[int, str] | None = None
        self._registry: Any = None
        self._signals: list[Any] = []
        self._merged_policy: dict[str, Any] = {}
        self._default_delivery_mode: Any = None

    def usable(self, name: str) -> bool:
        """True when a message for task ``name`` can be sent here rather than by ``send_task``."""
        if self._plain is None:
            conf: Any = getattr(self._app, "conf", None)
            self._plain = conf is not None and (
                conf.task_protocol == 2
                and not conf.task_routes
                and not conf.task_send_sent_event
                and isinstance(self._app.backend, DisabledBackend)
            )
            registry = getattr(self._app, "_tasks", None)
            self._plain = bool(self._plain and registry is not None)
            if self._plain:
                self._registry = registry
                self._signals = [
                    signal
                    for signal in (
                        signals.before_task_publish,
                        signals.after_task_publish,
                        getattr(signals, "task_sent", None),  # deprecated: may go
                    )
                    if signal is not None
                ]
                self._merged_policy = dict(conf.task_publish_retry_policy, **self._retry_policy)
                self._default_delivery_mode = conf.task_default_delivery_mode
        return bool(
            self._plain
            # send_task merges a locally registered task's options: not here.
            and self._registry.get(name) is None
            and not any(signal.receivers for signal in self._signals)
        )

    def send(
        self,
        producer: Any,
        name: str,
        *,
        task_id: str,
        args: list[Any],
        kwargs: dict[str, Any],
        queue: str | None,
        options: dict[str, Any],
    ) -> None:
        """Publish one message (call :meth:`usable` first).

        ``options`` holds the ``send_task`` options the dispatcher uses:
        ``expires`` (an aware datetime), ``time_limit``, ``soft_time_limit``,
        ``link``, ``link_error``, ``argsrepr``, ``kwargsrepr``, ``serializer``,
        ``compression``.

        Raises:
            Exception: whatever kombu raises once its retries are spent.
        """
        destination = self._destination(queue, name)
        target = destination[0]
        expires: dt.datetime | None = options.get("expires")
        argsrepr, kwargsrepr = options["argsrepr"], options["kwargsrepr"]
        link, link_error = options.get("link"), options.get("link_error")
        headers, properties, body, _sent_event = self._app.amqp.as_task_v2(
            task_id,
            name,
            args,
            kwargs,
            expires=expires,
            callbacks=[link] if link is not None else None,
            errbacks=[link_error] if link_error is not None else None,
            reply_to=self._app.thread_oid,
            time_limit=options.get("time_limit"),
            soft_time_limit=options.get("soft_time_limit"),
            origin=self._origin_name(),
            ignore_result=None,  # what send_task passes when not told
            argsrepr=argsrepr,
            kwargsrepr=kwargsrepr,
        )
        # send_task hands its left-over options to kombu as message properties.
        properties["argsrepr"], properties["kwargsrepr"] = argsrepr, kwargsrepr
        expiration = None
        if expires is not None:
            expiration = max(0.0, (expires - dt.datetime.now(dt.timezone.utc)).total_seconds())
        # kombu declares a queue once per connection (again after a reconnect);
        # asking it every time costs a copy and bind of the queue object.
        declare: list[Any] = []
        if target is not None and not isinstance(target, Broadcast):
            connection = producer.connection
            cached = target.can_cache_declaration and hash(target) in (
                connection.declared_entities or ()
            )
            if not cached:
                declare = [target]
        # As send_task: transport errors surface as kombu's (OperationalError...).
        reraise = getattr(producer.connection, "_reraise_as_library_errors", None)
        with reraise() if reraise is not None else contextlib.nullcontext():
            self._publish(
                producer,
                body,
                headers,
                properties,
                expiration,
                declare,
                destination,
                serializer=options.get("serializer", "json"),
                compression=options.get("compression"),
            )

    def _publish(
        self,
        producer: Any,
        body: Any,
        headers: dict[str, Any],
        properties: dict[str, Any],
        expiration: float | None,
        declare: list[Any],
        destination: tuple[Any, Any, str, Any],
        *,
        serializer: str,
        compression: str | None,
    ) -> None:
        _target, exchange, routing_key, delivery_mode = destination
        producer.publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            serializer=serializer,
            compression=compression,
            retry=True,
            retry_policy=self._merged_policy,
            delivery_mode=delivery_mode,
            declare=declare,
            headers=headers,
            expiration=expiration,
            timeout=None,
            confirm_timeout=None,
            **properties,
        )

    def _destination(self, queue: str | None, name: str) -> tuple[Any, Any, str, Any]:
        """The queue object, exchange, routing key and delivery mode send_task would use."""
        found = self._destinations.get(queue)
        if found is not None:
            return found
        amqp = self._app.amqp
        routed = amqp.router.route({"queue": queue} if queue else {}, name, None, None, None)
        target = routed.get("queue")
        if isinstance(target, str):
            target = amqp.queues[target]
        if target is None:
            target = amqp.default_queue
        qname = target.name
        exchange_type = getattr(target.exchange, "type", None) or "direct"
        exchange: Any = None
        routing_key: str | None = None
        if exchange_type == "direct":
            exchange, routing_key = "", qname
        else:
            exchange = target.exchange.name or amqp.default_exchange
            routing_key = target.routing_key or self._app.conf.task_default_routing_key
        delivery_mode = (
            getattr(target.exchange, "delivery_mode", None) or self._default_delivery_mode
        )
        found = (target, exchange, str(routing_key), delivery_mode)
        self._destinations[queue] = found
        return found

    def _origin_name(self) -> str:
        pid = os.getpid()
        if self._origin is None or self._origin[0] != pid:
            self._origin = (pid, anon_nodename())
        return self._origin[1]
