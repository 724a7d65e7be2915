"""One producer per poll thread, publishing through one Redis client (real Redis)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from swfbridge.poller.producers import ThreadProducers


@pytest.fixture
def app(redis_url: str) -> Iterator[Celery]:
    app = Celery("producers-test", broker=redis_url, set_as_current=False)
    yield app
    app.close()


def test_a_thread_keeps_its_producer_and_another_thread_gets_its_own(app: Celery) -> None:
    producers = ThreadProducers(app)
    first = producers.get()
    assert producers.get() is first
    seen: list[Any] = []
    thread = threading.Thread(target=lambda: seen.append(producers.get()))
    thread.start()
    thread.join()
    assert seen[0] is not first


def test_a_discarded_producer_goes_back_to_the_pool_and_the_next_get_takes_one_again(
    app: Celery,
) -> None:
    pool = app.producer_pool
    acquired: list[Any] = []
    original = pool.acquire

    def counting(*args: Any, **kwargs: Any) -> Any:
        acquired.append(1)
        return original(*args, **kwargs)

    pool.acquire = counting  # type: ignore[method-assign]
    producers = ThreadProducers(app)
    producers.get()
    producers.get()
    assert len(acquired) == 1
    producers.discard()
    producers.get()
    assert len(acquired) == 2


def test_publishes_on_redis_build_no_new_client_each(app: Celery) -> None:
    producers = ThreadProducers(app)
    channel = producers.get().channel
    built: list[Any] = []
    original = channel._create_client

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return original(*args, **kwargs)

    channel._create_client = counting
    for n in range(5):
        app.send_task("t", args=[n], queue="producers-test", producer=producers.get())
    assert built == []  # kombu's own path builds a client per publish
    client = original()
    assert client.llen("producers-test") == 5
    client.delete("producers-test")
