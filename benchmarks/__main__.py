"""``python -m benchmarks``: what the bridge costs, side by side with a native worker.

Writes the results as JSON (``--json``) and prints a Markdown table (also
written to ``--markdown`` if given). ``--quick`` is a small smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import processes, report
from benchmarks.scenarios import run_scenario
from benchmarks.workloads import (
    Workload,
    full_workloads,
    quick_workloads,
    slot_workloads,
    timeout_source_workloads,
)
from swfbridge.cli.poll import MAX_POLL_THREADS

DEFAULT_JSON = Path(__file__).parent / "results" / "latest.json"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=processes.REPO_ROOT,
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_start": list(os.getloadavg()),
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def sides(
    concurrency: int, quick: bool, workload: Workload | None = None
) -> list[tuple[str, str, list[str]]]:
    """(label, kind, extra ``swfbridge poll`` flags) of each side to run.

    ``swfbridge`` is the CLI's defaults (one poll thread, no capacity limit,
    the Redis broker as state store); the capacity-aware set-up polls only
    for free worker slots (``--max-in-flight`` = the fleet's concurrency),
    with as many poll threads as the native side has pollers. A workload that
    names its own bridge set-ups (``bridge_sides``) runs those alone.
    """
    if workload is not None and workload.bridge_sides is not None:
        return [(label, "bridge", list(flags)) for label, flags in workload.bridge_sides]
    chosen: list[tuple[str, str, list[str]]] = [
        ("native", "native", []),
        (report.BRIDGE, "bridge", []),
    ]
    if not quick:
        # As many poll threads as workers, up to what one poller process allows.
        pollers = min(concurrency, MAX_POLL_THREADS)
        chosen.append(
            (
                f"{report.BRIDGE} --pollers {pollers} --max-in-flight {concurrency}",
                "bridge",
                ["--pollers", str(pollers), "--max-in-flight", str(concurrency)],
            )
        )
    return chosen


def run_workload(
    workload: Workload,
    *,
    concurrency: int,
    quick: bool,
    broker_url: str,
    log_dir: Path,
    poll_timeout_s: float,
) -> list[dict[str, Any]]:
    results = []
    concurrency = workload.concurrency or concurrency
    for label, kind, poll_flags in sides(concurrency, quick, workload):
        print(f"  {workload.title}: {label} ...", file=sys.stderr, flush=True)
        entry: dict[str, Any] = {
            "workload": workload.key,
            "title": workload.title,
            "side": label,
            "concurrency": concurrency,
            "compares_bridge_sides": workload.bridge_sides is not None,
        }
        began = time.monotonic()
        try:
            entry.update(
                run_scenario(
                    side_name=kind,
                    workload=workload,
                    concurrency=concurrency,
                    log_dir=log_dir / f"{workload.key}-{label.replace(' ', '')}",
                    broker_url=broker_url,
                    poll_timeout_s=poll_timeout_s,
                    timeout_s=120 if quick else 300,
                    poll_flags=poll_flags,
                )
            )
            entry["heartbeat_budget"] = workload.heartbeat_call_budget()
        except Exception as exc:  # one failed scenario must not lose the others
            entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["scenario_s"] = time.monotonic() - began
        results.append(entry)
    return results


def poller_alone(broker_url: str, quick: bool) -> dict[str, Any]:
    """Run benchmarks.ceiling in a process of its own (its RSS is the poller's alone)."""
    count, growth = (500, (200, 2000)) if quick else (5000, (1000, 20000))
    env = processes.bridge_env(
        broker_url=broker_url, swf_endpoint="http://127.0.0.1:9", activities=""
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.ceiling",
            "--broker",
            broker_url,
            "--count",
            str(count),
            "--growth",
            *map(str, growth),
        ],
        env=env,
        cwd=processes.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.ceiling failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark swfbridge against a native boto3 SWF worker on the local "
        "SWF endpoint, and the poller alone against a fake SWF client.",
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run (~1-2 min)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="worker processes on each side (default 4)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        help=f"where to write the results (default {DEFAULT_JSON})",
    )
    parser.add_argument(
        "--markdown", type=Path, default=None, help="also write the Markdown table here"
    )
    parser.add_argument(
        "--workloads",
        default=None,
        help="comma-separated subset: noop,sleep50,heartbeat,latency; "
        "timeouts-fanout,timeouts-sequential (only when named) compare "
        "--timeouts-from registration with the default (history); slots (only "
        "when named) runs --max-in-flight C and 2 x C",
    )
    parser.add_argument(
        "--no-poller-alone",
        action="store_true",
        help="skip the poller-alone ceiling and growth runs",
    )
    parser.add_argument(
        "--poll-timeout",
        type=float,
        default=5.0,
        help="the endpoint's empty long-poll wait, seconds (default 5)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="keep process logs here (default: a temporary directory)",
    )
    args = parser.parse_args(argv)

    workloads = quick_workloads() if args.quick else full_workloads()
    if args.workloads:
        wanted = set(args.workloads.split(","))
        named_only = timeout_source_workloads(args.quick) + slot_workloads(
            args.concurrency, min(args.concurrency, MAX_POLL_THREADS), args.quick
        )
        workloads = [w for w in workloads + named_only if w.key in wanted]
    began = time.monotonic()
    results: dict[str, Any] = {
        "command": " ".join(
            ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
        ),
        "machine": machine(),
        "config": {
            "concurrency": args.concurrency,
            "quick": args.quick,
            "poll_timeout_s": args.poll_timeout,
        },
        "scenarios": [],
    }
    with tempfile.TemporaryDirectory(prefix="swfbridge-bench-") as tmp:
        log_dir = args.log_dir or Path(tmp)
        with processes.redis_server() as broker_url:
            for workload in workloads:
                results["scenarios"] += run_workload(
                    workload,
                    concurrency=args.concurrency,
                    quick=args.quick,
                    broker_url=broker_url,
                    log_dir=log_dir,
                    poll_timeout_s=args.poll_timeout,
                )
            if not args.no_poller_alone:
                print("  poller alone ...", file=sys.stderr, flush=True)
                results["poller_alone"] = poller_alone(broker_url, args.quick)
    results["machine"]["load_average_end"] = list(os.getloadavg())
    results["duration_s"] = time.monotonic() - began
    results["targets"] = report.targets(results)
    table = report.markdown(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table)
    print(table)
    failed = [s for s in results["scenarios"] if "error" in s]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
