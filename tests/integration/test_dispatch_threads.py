"""The most poll threads ``swfbridge poll`` allows, and its recovery thread,
leave the dispatcher's connection pool room for its checks.

Each poll thread keeps a producer (and so a broker connection of Celery's pool
of 10) for good, and so does the lost-job recovery thread once it publishes;
the readiness check and the look into the broker take one more each. kombu's
producer pool waits for a connection without a bound, so ``swfbridge poll``
refuses more poll threads than fit (tests/cli/test_cli_errors.py).
"""

from __future__ import annotations

import threading
import time
import uuid

from swfbridge.cli.poll import MAX_POLL_THREADS
from swfbridge.poller.build import celery_dispatcher
from swfbridge.wire.job import ActivityJob
from tests.support.jobs import make_job

THREADS = MAX_POLL_THREADS + 1  # the poll threads and the recovery thread


def _job(n: int) -> ActivityJob:
    now = time.time()
    return make_job(
        task_token=f"token-{n}",
        activity_id=f"a{n}",
        workflow_id=f"w-{uuid.uuid4().hex[:6]}",
        started_event_id=n,
        input="{}",
        polled_at=now,
        deadline=now + 60,
    )


def test_every_thread_keeps_a_producer_and_the_checks_still_get_a_connection(
    redis_url: str,
) -> None:
    # A database of its own: kombu keeps one connection pool per broker URL
    # for the whole process, shared with other tests' dispatchers.
    own_db = redis_url.rsplit("/", 1)[0] + "/11"
    dispatcher = celery_dispatcher(own_db, queue=f"q-{uuid.uuid4().hex[:8]}")
    published: list[int] = []
    lock = threading.Lock()
    hold = threading.Event()

    def publishing_thread(n: int) -> None:
        dispatcher.publish(_job(n))
        with lock:
            published.append(n)
        hold.wait(30)  # the thread lives on, keeping its producer, as a poll thread does
        dispatcher._producers.discard()  # back to kombu's pool, which is per process

    threads = [
        threading.Thread(target=publishing_thread, args=(n,), daemon=True) for n in range(THREADS)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(published) < THREADS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(published) == THREADS
        looked = threading.Thread(target=lambda: dispatcher.in_broker(["swf-0"]))
        looked.start()
        dispatcher.check()  # both at once, as the poll and recovery threads may
        looked.join(10)
        assert not looked.is_alive()
    finally:
        hold.set()
        for thread in threads:
            thread.join(5)
        dispatcher.app.close()
