"""Async vs sync no-op: the CPU an ``async def run`` costs a worker over a plain ``run``.

Two measurements, printed side by side:

* **On a real worker** (local SWF endpoint, Redis broker, ``swfbridge poll``,
  one prefork ``celery -A swfbridge worker -c 1``): rounds alternate a batch of
  ``BenchNoop`` and a batch of ``BenchAsyncNoop``; the worker's process tree
  CPU per task is taken for each batch, and the medians over the rounds are
  compared. Everything a job costs is in it (Celery, the SWF respond call),
  so the difference is small against the total and noisy on a shared machine.
* **In-process**: the executor's own path (``ActivityExecutor.execute`` and
  the respond call to an in-memory SWF) for each kind, many times, CPU time
  per task. This isolates what differs between the two paths.

Run it: ``python -m benchmarks.async_noop [--tasks 300] [--rounds 5]``.
The target: the async path costs at most 0.2 ms CPU per task more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from benchmarks import processes, procstat
from benchmarks.native import make_client
from benchmarks.scenarios import DOMAIN, endpoint, start_bridge
from benchmarks.scheduler import Scheduler, prepare_domain
from benchmarks.workloads import ASYNC_NOOP, NOOP, TASK_LIST, VERSION, Workload

TARGET_EXTRA_MS = 0.2


def on_real_worker(
    *, tasks: int, rounds: int, log_dir: Path, poll_timeout_s: float = 5.0
) -> dict[str, Any]:
    """Median worker CPU per task (ms) of each kind over alternating rounds."""
    per_task: dict[str, list[float]] = {NOOP: [], ASYNC_NOOP: []}
    with (
        processes.redis_server() as broker_url,
        endpoint(log_dir, poll_timeout_s=poll_timeout_s) as swf,
    ):
        client = make_client(swf.url)
        prepare_domain(client, DOMAIN)
        redis.Redis.from_url(broker_url).flushall()
        side = start_bridge(swf.url, broker_url, 1, log_dir, [])
        try:
            scheduler = Scheduler(client, DOMAIN)
            for kind in (NOOP, ASYNC_NOOP):  # warm-up: imports, clients, the event loop
                scheduler.run(Workload(f"warm-{kind}", "warm-up", kind, 20), 300)
            for _ in range(rounds):
                for kind in (NOOP, ASYNC_NOOP):
                    window = procstat.CpuWindow({"workers": side.roles["workers"]})
                    window.start()
                    run = scheduler.run(Workload(kind, kind, kind, tasks), 600)
                    spent = window.stop()["workers"]
                    done = sum(
                        1 for t in run.timings.values() if t.status == "ActivityTaskCompleted"
                    )
                    if done != tasks:
                        raise RuntimeError(f"{kind}: {done} of {tasks} completed")
                    per_task[kind].append(1000 * spent / tasks)
        finally:
            side.stop()
    return {
        kind: {"median_ms": statistics.median(v), "rounds_ms": v} for kind, v in per_task.items()
    }


def in_process(*, tasks: int) -> dict[str, float]:
    """Executor CPU per task (ms), with an in-memory SWF: the bridge's own path only."""
    from benchmarks.activities import BenchAsyncNoop, BenchNoop
    from swfbridge.activities.registry import default_registry
    from swfbridge.aws.swf import SwfClient
    from swfbridge.testing.activity_env import _RecordingSwf
    from swfbridge.wire.job import ActivityJob
    from swfbridge.worker.executor import ActivityExecutor

    assert BenchNoop and BenchAsyncNoop  # registered in default_registry by import
    fake = _RecordingSwf()
    # An interrupt, as in a prefork child: both paths then arm the deadline timer.
    executor = ActivityExecutor(
        registry=default_registry, swf=SwfClient(client=fake), interrupt=lambda: None
    )
    figures = {}
    try:
        for kind in (NOOP, ASYNC_NOOP) * 2:  # the first pass warms up
            now = time.time()
            job = ActivityJob(
                task_token="t",
                domain=DOMAIN,
                task_list=TASK_LIST,
                activity_id="a",
                activity_name=kind,
                activity_version=VERSION,
                workflow_id="w",
                run_id="r",
                started_event_id=1,
                input="[[], {}]",
                polled_at=now,
                deadline=now + 300,
            )
            began = time.process_time()
            for _ in range(tasks):
                executor.report(job, executor.execute(job))
                fake.responses.clear()
            figures[kind] = 1000 * (time.process_time() - began) / tasks
    finally:
        executor.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.async_noop",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--tasks", type=int, default=300, help="tasks per batch (default 300)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="batches of each kind on the worker (default 5)"
    )
    parser.add_argument(
        "--in-process-tasks",
        type=int,
        default=20_000,
        help="executor runs of each kind in-process (default 20000)",
    )
    parser.add_argument(
        "--poll-timeout",
        type=float,
        default=5.0,
        help="the endpoint's empty long-poll wait, seconds (default 5)",
    )
    args = parser.parse_args(argv)

    local = in_process(tasks=args.in_process_tasks)
    print(
        f"in-process executor, CPU per task: sync {local[NOOP]:.3f} ms, "
        f"async {local[ASYNC_NOOP]:.3f} ms, extra {local[ASYNC_NOOP] - local[NOOP]:+.3f} ms"
    )
    with tempfile.TemporaryDirectory(prefix="swfbridge-async-bench-") as tmp:
        worker = on_real_worker(
            tasks=args.tasks,
            rounds=args.rounds,
            log_dir=Path(tmp),
            poll_timeout_s=args.poll_timeout,
        )
    sync_ms, async_ms = worker[NOOP]["median_ms"], worker[ASYNC_NOOP]["median_ms"]
    print(
        f"real worker (-c 1), CPU per task, median of {args.rounds} rounds of "
        f"{args.tasks}: sync {sync_ms:.3f} ms, async {async_ms:.3f} ms, "
        f"extra {async_ms - sync_ms:+.3f} ms"
    )
    for kind in (NOOP, ASYNC_NOOP):
        rounds = ", ".join(f"{v:.3f}" for v in worker[kind]["rounds_ms"])
        print(f"  {kind} rounds (ms/task): {rounds}")
    print(f"target: async extra <= {TARGET_EXTRA_MS} ms CPU per task")
    return 0


if __name__ == "__main__":
    sys.exit(main())
