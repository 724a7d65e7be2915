"""The poller alone: dispatch ceiling and cost growth, against a fake SWF client.

The fake answers ``PollForActivityTask`` at once, in-process (no HTTP), and
the poller's own poll threads run (broker check, slot, poll, job, publish),
so what is left is the poller's own work. The variants add one part at a
time to show where the ceiling comes from: a no-op dispatcher (the poller's
own code), :class:`CeleryDispatcher` publishing to a real Redis, the state
store (queued-job keepalive), capacity slots (``--max-in-flight``, with each
slot freed as soon as it is published, as a worker would free it: that Redis
call is the worker's in real life but lands here). Logging is set up as
``swfbridge poll`` sets it up (INFO, one line per dispatched task), into a file.
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
from dataclasses import dataclass
from typing import Any

from benchmarks import procstat
from benchmarks.workloads import NOOP, TASK_LIST, VERSION
from swfbridge.aws.swf import SwfClient
from swfbridge.poller.build import build_poller
from swfbridge.poller.loop import PollerConfig
from swfbridge.poller.timeouts import TimeoutPolicy
from swfbridge.state.store import BridgeState, StateConfig
from swfbridge.wire.job import ActivityJob

# A real SWF task token is an opaque ~ 400-character string.
_TOKEN_PAD = "AAAAKgAAAAIAAAAAAAAAA" * 18
QUEUE = "bench-ceiling"


class FakeSwf:
    """Answers activity polls at once with fresh, well-formed tasks, while it has some.

    With none left, a poll waits briefly and comes back empty (a long poll
    that timed out), so idle poll threads do not spin.
    """

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._left = 0

    def add(self, count: int) -> None:
        with self._lock:
            self._left += count

    def poll_for_activity_task(self, **params: Any) -> dict[str, Any]:
        with self._lock:
            if self._left <= 0:
                n = 0
            else:
                self._left -= 1
                n = next(self._ids)
        if n == 0:
            time.sleep(0.01)
            return {}
        return {
            "taskToken": f"{_TOKEN_PAD}{n:012d}",
            "activityId": f"a{n}",
            "startedEventId": 3 * n + 2,
            "workflowExecution": {"workflowId": f"bench-{n // 1000}", "runId": "r" * 44},
            "activityType": {"name": NOOP, "version": VERSION},
            "input": "[[], {}]",
        }

    def record_activity_task_heartbeat(self, **params: Any) -> dict[str, Any]:
        return {}


class NullDispatcher:
    """Takes every job and does nothing with it."""

    def publish(self, job: ActivityJob) -> None:
        return None

    def check(self) -> None:
        return None


class _Counting:
    """Wraps a dispatcher: counts publishes, and frees each slot as a worker would."""

    def __init__(self, inner: Any, state: BridgeState | None) -> None:
        self._inner = inner
        self._state = state
        self._lock = threading.Lock()
        self._published = 0
        self._target = 0
        self.reached = threading.Event()

    def expect(self, count: int) -> None:
        with self._lock:
            self._target = self._published + count
            self.reached.clear()

    def check(self) -> None:
        self._inner.check()

    def publish(self, job: ActivityJob) -> None:
        self._inner.publish(job)
        if self._state is not None:
            # The worker's release when the job ends (here at once: no worker).
            self._state.release(job.domain, job.task_list, job.attempt_id)
        with self._lock:
            self._published += 1
            if self._published >= self._target:
                self.reached.set()


@dataclass(frozen=True)
class Variant:
    """One poller set-up to measure."""

    name: str
    dispatcher: str  # "none" or "celery-redis"
    state: bool = False  # a state store: queued-job keepalive (the CLI default on Redis)
    max_in_flight: int | None = None  # capacity-aware polling (slots in the state store)
    threads: int = 1


CAPACITY_AWARE = Variant(
    "Celery → Redis + state + --max-in-flight",
    "celery-redis",
    state=True,
    max_in_flight=1_000_000,
)

VARIANTS = [
    Variant("poller code only (no-op dispatcher)", "none"),
    Variant("Celery → Redis", "celery-redis"),
    Variant("Celery → Redis + state store (CLI default)", "celery-redis", state=True),
    CAPACITY_AWARE,
    Variant(
        "Celery → Redis + state + --max-in-flight, --pollers 4",
        "celery-redis",
        state=True,
        max_in_flight=1_000_000,
        threads=4,
    ),
]


class _Bench:
    """A running poller fed by a :class:`FakeSwf`."""

    def __init__(self, variant: Variant, broker_url: str | None) -> None:
        import benchmarks.activities  # noqa: F401  - registers the timeouts locally
        from swfbridge.activities.registry import default_registry

        self.fake = FakeSwf()
        swf = SwfClient(client=self.fake)
        state = BridgeState(config=StateConfig(url=str(broker_url))) if variant.state else None
        inner = (
            NullDispatcher() if variant.dispatcher == "none" else celery_dispatcher(str(broker_url))
        )
        self.dispatcher = _Counting(inner, state if variant.max_in_flight else None)
        self.poller = build_poller(
            config=PollerConfig(
                domain="bench",
                task_list=TASK_LIST,
                identity="bench-poller",
                pollers=variant.threads,
                max_in_flight=variant.max_in_flight,
            ),
            swf=swf,
            dispatcher=self.dispatcher,
            registry=default_registry,
            # The dispatch path alone: history reads are measured by the history workload.
            timeouts_from=TimeoutPolicy.REGISTRATION,
            state=state,
        )
        self.poller.start()

    def run(self, count: int, timeout_s: float = 600) -> tuple[float, float]:
        """Feed ``count`` tasks; wall and CPU seconds (this process) until all are published."""
        self.dispatcher.expect(count)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        self.fake.add(count)
        if not self.dispatcher.reached.wait(timeout_s):
            raise TimeoutError(f"the poller did not publish {count} tasks in {timeout_s}s")
        return time.perf_counter() - wall0, time.process_time() - cpu0

    def close(self) -> None:
        self.poller.stop()
        self.poller.join(5)


def celery_dispatcher(broker_url: str) -> Any:
    from swfbridge.poller.build import celery_dispatcher as publishing_to

    return publishing_to(broker_url, queue=QUEUE, app_name="swfbridge-bench-poller")


class _PollerLogging:
    """The poller's INFO logging, into a temporary file (as ``swfbridge poll`` logs)."""

    def __enter__(self) -> _PollerLogging:
        self._file = tempfile.NamedTemporaryFile(
            prefix="bench-poller-", suffix=".log", delete=False
        )
        self._handler = logging.FileHandler(self._file.name)
        self._handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
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


def dispatch_ceiling(variant: Variant, count: int, broker_url: str | None) -> dict[str, Any]:
    """Tasks/s one poller process dispatches, and its CPU per task."""
    with _PollerLogging():
        bench = _Bench(variant, broker_url)
        try:
            bench.run(min(200, count))  # warm-up: connections, caches, scripts
            wall_s, cpu_s = bench.run(count)
        finally:
            bench.close()
    if broker_url is not None:
        _drop_queue(broker_url)
    return {
        "variant": variant.name,
        "dispatcher": variant.dispatcher,
        "threads": variant.threads,
        "tasks": count,
        "tasks_per_s": count / wall_s,
        "cpu_ms_per_task": 1000 * cpu_s / count,
    }


def growth(broker_url: str, first: int, total: int) -> dict[str, Any]:
    """Poller RSS and CPU per task after ``first`` and after ``total`` tasks.

    The full set-up (Celery → Redis, state store, ``--max-in-flight``). CPU per
    task is measured over the first ``first`` tasks and over the last
    ``first`` tasks, so the two windows are the same size.
    """
    pid = os.getpid()
    with _PollerLogging():
        bench = _Bench(CAPACITY_AWARE, broker_url)
        try:
            bench.run(200)  # warm-up: imports, connections
            _wall, cpu_first = bench.run(first)
            rss_first = procstat.rss_mb(pid)
            bench.run(total - 2 * first)
            _wall, cpu_last = bench.run(first)
            rss_total = procstat.rss_mb(pid)
        finally:
            bench.close()
    _drop_queue(broker_url)
    return {
        "tasks": [first, total],
        "rss_mb": [rss_first, rss_total],
        "cpu_ms_per_task": [1000 * cpu_first / first, 1000 * cpu_last / first],
    }


def _drop_queue(broker_url: str) -> None:
    import redis

    redis.Redis.from_url(broker_url).delete(QUEUE)


def run_all(broker_url: str, *, count: int, growth_first: int, growth_total: int) -> dict[str, Any]:
    """Every poller-alone measurement, as the report wants them."""
    return {
        "ceiling": [
            dispatch_ceiling(v, count, None if v.dispatcher == "none" else broker_url)
            for v in VARIANTS
        ]
        + [processes_side_by_side(broker_url, count=count, processes=2)],
        "growth": growth(broker_url, growth_first, growth_total),
    }


def processes_side_by_side(broker_url: str, *, count: int, processes: int) -> dict[str, Any]:
    """``processes`` poller processes at once (capacity-aware, one poll thread each).

    Each process dispatches ``count`` tasks from its own fake SWF to the same
    Redis; the figure is their summed rate while all ran, the alternative to
    more poll threads in one process (which share one GIL).
    """
    import subprocess

    queue_variant = str(VARIANTS.index(CAPACITY_AWARE))
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.ceiling",
                "--broker",
                broker_url,
                "--count",
                str(count),
                "--variant",
                queue_variant,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    rows = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        if child.returncode != 0:
            raise RuntimeError("a benchmarks.ceiling child failed")
        rows.append(json.loads(out))
    _drop_queue(broker_url)
    return {
        "variant": f"{processes} poller processes, --max-in-flight, 1 poll thread each",
        "dispatcher": "celery-redis",
        "threads": 1,
        "processes": processes,
        "tasks": count * processes,
        "tasks_per_s": sum(r["tasks_per_s"] for r in rows),
        "cpu_ms_per_task": sum(r["cpu_ms_per_task"] for r in rows) / len(rows),
    }


def main(argv: list[str] | None = None) -> int:
    """Run in a process of its own, so its RSS is the poller's alone; JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument(
        "--growth", type=int, nargs=2, default=[1000, 20000], metavar=("FIRST", "TOTAL")
    )
    parser.add_argument(
        "--variant", type=int, default=None, help="measure only VARIANTS[N] (one ceiling row)"
    )
    args = parser.parse_args(argv)
    if args.variant is not None:
        json.dump(dispatch_ceiling(VARIANTS[args.variant], args.count, args.broker), sys.stdout)
        return 0
    result = run_all(
        args.broker, count=args.count, growth_first=args.growth[0], growth_total=args.growth[1]
    )
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
