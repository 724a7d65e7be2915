"""Many poll threads publishing through one dispatcher (swfbridge.poller.build).

Each poll thread keeps a broker connection for good (its producer); the
dispatcher's pool must hold them all and still serve the readiness check and
the look into the broker. With Celery's default pool of 10 connections, an
eleventh poll thread waited for a producer forever.
"""

from __future__ import annotations

import threading
import time
import uuid

from swfbridge.poller.build import celery_dispatcher
from swfbridge.wire.job import ActivityJob

THREADS = 16


def _job(n: int) -> ActivityJob:
    now = time.time()
    return ActivityJob(
        task_token=f"token-{n}",
        domain="d",
        task_list="tl",
        activity_id=f"a{n}",
        activity_name="A",
        activity_version="1",
        workflow_id=f"w-{uuid.uuid4().hex[:6]}",
        run_id="r",
        started_event_id=n,
        input="{}",
        polled_at=now,
        deadline=now + 60,
    )


def test_sixteen_poll_threads_each_keep_a_producer_and_the_broker_check_still_answers(
    redis_url: str,
) -> None:
    # A database of its own: kombu keeps one connection pool per broker URL
    # for the whole process, shared with other tests' dispatchers.
    own_db = redis_url.rsplit("/", 1)[0] + "/11"
    dispatcher = celery_dispatcher(
        own_db, queue=f"q-{uuid.uuid4().hex[:8]}", publishing_threads=THREADS
    )
    published: list[int] = []
    failed: list[BaseException] = []
    lock = threading.Lock()
    hold = threading.Event()

    def poll_thread(n: int) -> None:
        try:
            dispatcher.publish(_job(n))
        except BaseException as exc:
            with lock:
                failed.append(exc)
            return
        with lock:
            published.append(n)
        hold.wait(30)  # the thread lives on, keeping its producer, as a poll thread does
        dispatcher._producers.discard()  # back to kombu's pool, which is per process

    threads = [threading.Thread(target=poll_thread, args=(n,), daemon=True) for n in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(published) + len(failed) < THREADS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not failed, failed
        assert len(published) == THREADS
        dispatcher.check()  # the readiness check gets a connection too
        assert dispatcher.in_broker([_job(0).attempt_id]) is not None
    finally:
        hold.set()
        for thread in threads:
            thread.join(5)
        dispatcher.app.close()


def test_a_second_dispatcher_in_the_process_does_not_shrink_the_pools_in_use(
    redis_url: str,
) -> None:
    """kombu keeps one pool limit per process and cannot shrink a pool in use:
    a dispatcher built after one sized for many threads keeps the larger limit."""
    base = redis_url.rsplit("/", 1)[0]
    many = celery_dispatcher(f"{base}/12", publishing_threads=THREADS)
    few = celery_dispatcher(f"{base}/13")
    try:
        many.check()
        many._producers.get()  # a connection of its pool in use, as a poll thread holds one
        few.check()  # was: RuntimeError: Can't shrink pool when in use: was=20 now=10
    finally:
        many._producers.discard()
        many.app.close()
        few.app.close()
