"""``python -m tests.soak``: the soak of issue 18 (see docs/reliability.rst, "Soak").

Exits 0 when every activity ended acceptably and none ran twice, 1 otherwise.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from tests.soak.fleet import FleetConfig
from tests.soak.runner import SoakConfig, run_soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.soak",
        description="Run N activities through real processes while a chaos driver kills "
        "and throttles them; print the table; exit 1 on any loss or duplicate.",
    )
    parser.add_argument("--activities", type=int, default=10_000, help="default 10000")
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=6, help="pool size per worker")
    parser.add_argument("--pollers", type=int, default=2)
    parser.add_argument("--per-workflow", type=int, default=50)
    parser.add_argument("--parallel-workflows", type=int, default=8)
    parser.add_argument("--chaos-interval", type=float, default=6.0, metavar="SECONDS")
    parser.add_argument("--no-chaos", action="store_true", help="the same load, no faults")
    parser.add_argument("--max-wall", type=float, default=3600.0, metavar="SECONDS")
    parser.add_argument("--workdir", type=Path, default=None, help="logs (default: a temp dir)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    config = SoakConfig(
        activities=args.activities,
        seed=seed,
        per_workflow=args.per_workflow,
        parallel_workflows=args.parallel_workflows,
        fleet=FleetConfig(workers=args.workers, concurrency=args.concurrency, pollers=args.pollers),
        chaos_interval_s=args.chaos_interval,
        chaos=not args.no_chaos,
        max_wall_s=args.max_wall,
        workdir=args.workdir,
    )
    report = run_soak(config, say=lambda line: print(line, flush=True))
    print(report.table(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
