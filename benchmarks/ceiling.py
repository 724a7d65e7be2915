"""The poller alone: dispatch ceiling and cost growth, against a fake SWF client.

The fake answers ``PollForActivityTask`` at once, in-process (no HTTP), so
what is left is the poller's own work: building the job, resolving timeouts,
publishing. Two dispatchers show where the ceiling comes from: a no-op one
(the poller's own code) and :class:`CeleryDispatcher` publishing to a real
Redis (``send_task`` included). Logging is set up as ``swfbridge poll`` sets
it up (INFO, one line per dispatched task), into a file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from benchmarks import procstat
from benchmarks.workloads import NOOP, TASK_LIST, VERSION
from swfbridge.job import ActivityJob
from swfbridge.poller import Poller, PollerConfig
from swfbridge.swf import SwfClient
from swfbridge.timeouts import TimeoutResolver

# A real SWF task token is an opaque ~ 400-character string.
_TOKEN_PAD = "AAAAKgAAAAIAAAAAAAAAA" * 18
QUEUE = "bench-ceiling"


class FakeSwf:
    """Answers activity polls at once with fresh, well-formed tasks."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def poll_for_activity_task(self, **params: Any) -> dict[str, Any]:
        with self._lock:
            n = next(self._ids)
        return {
            "taskToken": f"{_TOKEN_PAD}{n:012d}",
            "activityId": f"a{n}",
            "startedEventId": 3 * n + 2,
            "workflowExecution": {"workflowId": f"bench-{n // 1000}", "runId": "r" * 44},
            "activityType": {"name": NOOP, "version": VERSION},
            "input": "[[], {}]",
        }


class NullDispatcher:
    """Takes every job and does nothing with it."""

    def publish(self, job: ActivityJob) -> None:
        return None


def _poller(dispatcher: Any) -> Poller:
    import benchmarks.activities  # noqa: F401  - registers the timeouts locally
    from swfbridge.registry import default_registry

    swf = SwfClient(client=FakeSwf())
    return Poller(
        config=PollerConfig(domain="bench", task_list=TASK_LIST, identity="bench-poller"),
        swf=swf,
        dispatcher=dispatcher,
        timeouts=TimeoutResolver(registry=default_registry, swf=swf, domain="bench"),
    )


def celery_dispatcher(broker_url: str) -> Any:
    from celery import Celery

    from swfbridge.dispatch import CeleryDispatcher

    app = Celery("swfbridge-bench-poller", broker=broker_url)
    app.conf.update(task_serializer="json", accept_content=["json"],
                    broker_connection_retry_on_startup=True)
    return CeleryDispatcher(app=app, queue=QUEUE)


class _PollerLogging:
    """The poller's INFO logging, into a temporary file (as ``swfbridge poll`` logs)."""

    def __enter__(self) -> _PollerLogging:
        self._file = tempfile.NamedTemporaryFile(prefix="bench-poller-", suffix=".log",
                                                 delete=False)
        self._handler = logging.FileHandler(self._file.name)
        self._handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self._logger = logging.getLogger("swfbridge")
        self._old_level = self._logger.level
        self._logger.addHandler(self._handler)
        self._logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._old_level)
        self._handler.close()
        self._file.close()
        os.unlink(self._file.name)


def _measure(poll_once: Callable[[], bool], count: int) -> tuple[float, float]:
    """Wall and CPU seconds (this process) for ``count`` polls."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(count):
        poll_once()
    return time.perf_counter() - wall0, time.process_time() - cpu0


def dispatch_ceiling(dispatcher_name: str, count: int, broker_url: str | None = None,
                     threads: int = 1) -> dict[str, Any]:
    """Tasks/s one poller process dispatches, and its CPU per task.

    With ``threads > 1`` the poller's own poll threads run (as ``--pollers``).
    """
    dispatcher = (NullDispatcher() if dispatcher_name == "none"
                  else celery_dispatcher(str(broker_url)))
    poller = _poller(dispatcher)
    with _PollerLogging():
        _measure(poller.poll_once, min(200, count))  # warm-up: connections, caches
        if threads == 1:
            wall_s, cpu_s = _measure(poller.poll_once, count)
        else:
            wall_s, cpu_s = _threaded(poller, count, threads)
    if broker_url is not None:
        _drop_queue(broker_url)
    return {"dispatcher": dispatcher_name, "threads": threads, "tasks": count,
            "tasks_per_s": count / wall_s, "cpu_ms_per_task": 1000 * cpu_s / count}


def _threaded(poller: Poller, count: int, threads: int) -> tuple[float, float]:
    per_thread = count // threads

    def loop() -> None:
        for _ in range(per_thread):
            poller.poll_once()

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - wall0, time.process_time() - cpu0


def growth(broker_url: str, first: int, total: int) -> dict[str, Any]:
    """Poller RSS and CPU per task after ``first`` and after ``total`` tasks.

    CPU per task is measured over the first ``first`` tasks and over the last
    ``first`` tasks, so the two windows are the same size.
    """
    dispatcher = celery_dispatcher(broker_url)
    poller = _poller(dispatcher)
    pid = os.getpid()
    with _PollerLogging():
        _measure(poller.poll_once, 200)  # warm-up: imports, connections
        _wall, cpu_first = _measure(poller.poll_once, first)
        rss_first = procstat.rss_mb(pid)
        _measure(poller.poll_once, total - 2 * first)
        _wall, cpu_last = _measure(poller.poll_once, first)
        rss_total = procstat.rss_mb(pid)
    _drop_queue(broker_url)
    return {
        "tasks": [first, total],
        "rss_mb": [rss_first, rss_total],
        "cpu_ms_per_task": [1000 * cpu_first / first, 1000 * cpu_last / first],
    }


def _drop_queue(broker_url: str) -> None:
    import redis

    redis.Redis.from_url(broker_url).delete(QUEUE)


def run_all(broker_url: str, *, count: int, growth_first: int, growth_total: int
            ) -> dict[str, Any]:
    """Every poller-alone measurement, as the report wants them."""
    return {
        "ceiling": [
            dispatch_ceiling("none", count),
            dispatch_ceiling("celery-redis", count, broker_url),
            dispatch_ceiling("celery-redis", count, broker_url, threads=4),
        ],
        "growth": growth(broker_url, growth_first, growth_total),
    }


def main(argv: list[str] | None = None) -> int:
    """Run in a process of its own, so its RSS is the poller's alone; JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--growth", type=int, nargs=2, default=[1000, 20000],
                        metavar=("FIRST", "TOTAL"))
    args = parser.parse_args(argv)
    result = run_all(args.broker, count=args.count, growth_first=args.growth[0],
                     growth_total=args.growth[1])
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
