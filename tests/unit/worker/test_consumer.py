"""The worker's task consumer sends through one Redis client (real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from kombu import Connection

from swfbridge.kombu_redis import reuse_one_client
from swfbridge.worker.consumer import OneRedisClient
from swfbridge.worker.install import install


@pytest.fixture
def connection(redis_url: str) -> Iterator[Any]:
    with Connection(redis_url) as conn:
        yield conn


def _count_clients(channel: Any) -> list[int]:
    built: list[int] = []
    original = channel._create_client

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return original(*args, **kwargs)

    channel._create_client = counting
    return built


def test_receiving_and_acknowledging_builds_no_client_per_message(connection: Any) -> None:
    queue = connection.SimpleQueue("consumer-test")
    for n in range(3):
        queue.put({"n": n})
    channel = queue.channel
    built = _count_clients(channel)

    assert reuse_one_client(channel)
    for n in range(3):
        message = queue.get(timeout=1)  # recorded as unacknowledged (QoS.append)
        assert message.payload == {"n": n}
        message.ack()  # QoS.ack

    assert built == [1]  # kombu's own path builds one per get and one per ack
    client = channel._create_client()
    assert client.hlen(channel.unacked_key) == 0  # the bookkeeping still happened
    assert client.llen("consumer-test") == 0
    queue.close()


def test_a_client_given_by_keyword_is_used(connection: Any) -> None:
    channel = connection.default_channel
    reuse_one_client(channel)
    mine = channel._create_client()

    with channel.conn_or_acquire(client=mine) as client:
        assert client is mine


def test_a_channel_of_another_transport_is_left_alone() -> None:
    with Connection("memory://") as conn:
        channel = conn.default_channel
        before = channel.conn_or_acquire if hasattr(channel, "conn_or_acquire") else None

        assert not reuse_one_client(channel)
        assert getattr(channel, "conn_or_acquire", None) == before


def test_install_adds_the_step_to_the_workers_consumer(redis_url: str) -> None:
    app = Celery("consumer-step-test", broker=redis_url, set_as_current=False)
    install(app)

    assert OneRedisClient in app.steps["consumer"]


def test_the_step_applies_to_the_channel_the_task_consumer_acknowledges_on(
    redis_url: str, connection: Any
) -> None:
    app = Celery("consumer-step-test", broker=redis_url, set_as_current=False)
    consumer = SimpleNamespace(task_consumer=app.amqp.TaskConsumer(connection))
    channel = consumer.task_consumer.channel
    built = _count_clients(channel)

    OneRedisClient(consumer).start(consumer)
    for _ in range(3):
        with channel.qos.channel.conn_or_acquire():
            pass

    assert built == [1]
