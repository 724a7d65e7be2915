"""The worker's CPU per no-op task, split between the main process and the pool.

A real ``celery -A swfbridge worker -P prefork`` fed by ``swfbridge poll``
(local SWF endpoint, Redis broker and state store) runs batches of no-op
activities; for each batch, the CPU of the worker's main process (consumer,
acknowledgements, hand-off to the pool) and of its pool children (the task
body: claim, run, respond, slot release) is read from /proc. The poller's CPU
is printed too.

Compare two checkouts by running this in each, alternately, with
``PYTHONPATH`` on the checkout: on a shared machine only pairs run back to
back say anything.

Run it: ``python -m benchmarks.worker_split [--tasks 600] [--rounds 2]
[--poll-flags "--pollers 4 --max-in-flight 4"]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import processes, procstat
from benchmarks.native import make_client
from benchmarks.scenarios import DOMAIN, endpoint, start_bridge
from benchmarks.scheduler import Scheduler, prepare_domain
from benchmarks.workloads import NOOP, Workload

FIGURES = ("workers", "main", "children", "poller", "tasks_per_s")


def measure(
    *,
    tasks: int,
    rounds: int,
    concurrency: int,
    poll_flags: list[str],
    log_dir: Path,
    poll_timeout_s: float = 5.0,
) -> list[dict[str, float]]:
    """One row of figures (ms of CPU per task, tasks/s) per round."""
    rows = []
    with (
        processes.redis_server() as broker_url,
        endpoint(log_dir, poll_timeout_s=poll_timeout_s) as swf,
    ):
        client = make_client(swf.url)
        prepare_domain(client, DOMAIN)
        side = start_bridge(swf.url, broker_url, concurrency, log_dir, poll_flags)
        try:
            scheduler = Scheduler(client, DOMAIN)
            scheduler.run(Workload("warm-up", "warm-up", NOOP, 100), 300)
            main, poller = side.roles["workers"][0], side.roles["poller"][0]
            for _ in range(rounds):
                children = [pid for pid in procstat.tree(main) if pid != main]
                before = (
                    procstat.cpu_s(main),
                    sum(procstat.cpu_s(pid) for pid in children),
                    procstat.cpu_s(poller),
                )
                started = time.monotonic()
                run = scheduler.run(Workload("no-ops", "no-ops", NOOP, tasks), 900)
                wall = time.monotonic() - started
                after = (
                    procstat.cpu_s(main),
                    sum(procstat.cpu_s(pid) for pid in children),
                    procstat.cpu_s(poller),
                )
                done = sum(1 for t in run.timings.values() if t.status == "ActivityTaskCompleted")
                if done != tasks:
                    raise RuntimeError(f"{done} of {tasks} no-ops completed")
                main_ms, children_ms, poller_ms = (
                    1000 * (a - b) / tasks for a, b in zip(after, before, strict=True)
                )
                rows.append(
                    {
                        "workers": main_ms + children_ms,
                        "main": main_ms,
                        "children": children_ms,
                        "poller": poller_ms,
                        "tasks_per_s": tasks / wall,
                    }
                )
        finally:
            side.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.worker_split",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--tasks", type=int, default=600, help="no-ops per round (default 600)")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds (default 2)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="worker pool processes (default 4)"
    )
    parser.add_argument(
        "--poll-flags", default="", help='extra swfbridge poll flags, e.g. "--max-in-flight 4"'
    )
    parser.add_argument(
        "--poll-timeout",
        type=float,
        default=5.0,
        help="the endpoint's empty long-poll wait, seconds (default 5)",
    )
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="keep process logs here (default: temporary)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="swfbridge-worker-split-") as tmp:
        rows = measure(
            tasks=args.tasks,
            rounds=args.rounds,
            concurrency=args.concurrency,
            poll_flags=args.poll_flags.split(),
            log_dir=args.log_dir or Path(tmp),
            poll_timeout_s=args.poll_timeout,
        )
    for n, row in enumerate(rows):
        print(
            f"round {n}: workers {row['workers']:.2f} ms/task (main {row['main']:.2f}, "
            f"children {row['children']:.2f}), poller {row['poller']:.2f} ms/task, "
            f"{row['tasks_per_s']:.1f} tasks/s"
        )
    medians = ", ".join(f"{k} {statistics.median(r[k] for r in rows):.2f}" for k in FIGURES)
    print(f"median: {medians}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
