"""End-to-end scenarios: one workload, one side (native or swfbridge), one concurrency.

Each scenario gets a fresh endpoint process; both sides run a small warm-up
batch first (boto3 clients, imports, prefork children) that is not measured.
"""

from __future__ import annotations

import contextlib
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from benchmarks import hops, processes, procstat
from benchmarks.endpoint import EndpointClient
from benchmarks.native import make_client
from benchmarks.scheduler import RESPOND_OPS, RunResult, Scheduler, prepare_domain
from benchmarks.workloads import NOOP, TASK_LIST, Workload

DOMAIN = "bench"
ACTIVITIES_MODULE = "benchmarks.activities"
HISTORY_OP = "GetWorkflowExecutionHistory"
ACTIVITY_OPS = (
    "PollForActivityTask",
    "RecordActivityTaskHeartbeat",
    "DescribeActivityType",
    HISTORY_OP,
    *RESPOND_OPS,
)


@dataclass
class Endpoint:
    process: processes.Process
    url: str
    admin: EndpointClient


@contextlib.contextmanager
def endpoint(log_dir: Path, *, poll_timeout_s: float, name: str = "endpoint") -> Iterator[Endpoint]:
    """A fresh ``benchmarks.endpoint`` process (the local SWF endpoint + counter)."""
    env = processes.bridge_env(broker_url="", swf_endpoint="", activities="")
    proc = processes.spawn(
        name,
        [sys.executable, "-m", "benchmarks.endpoint", "--poll-timeout", str(poll_timeout_s)],
        env,
        log_dir,
    )
    try:
        processes.wait_for(
            lambda: "http://" in proc.output() or not proc.alive(), 60, "the endpoint"
        )
        if not proc.alive():
            raise RuntimeError(f"endpoint exited:\n{proc.output()}")
        url = next(line for line in proc.output().splitlines() if line.startswith("http://"))
        yield Endpoint(proc, url, EndpointClient(url))
    finally:
        proc.stop()


@dataclass
class Side:
    """The processes of one side, by role."""

    roles: dict[str, list[int]]
    procs: list[processes.Process] = field(default_factory=list)

    def stop(self) -> None:
        # Signal all first: each finishes its long poll in parallel, not in turn.
        # One signal only: a second one makes `swfbridge poll` abandon its polls.
        for proc in self.procs:
            proc.signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.popen.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_native(url: str, concurrency: int, log_dir: Path) -> Side:
    env = processes.bridge_env(broker_url="", swf_endpoint=url, activities="")
    procs = [
        processes.spawn(
            f"native-{i}",
            [
                sys.executable,
                "-m",
                "benchmarks.native",
                "--endpoint",
                url,
                "--domain",
                DOMAIN,
                "--task-list",
                TASK_LIST,
            ],
            env,
            log_dir,
        )
        for i in range(concurrency)
    ]
    for proc in procs:
        _wait_ready(proc)
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.output()}")
    return Side({"workers": [p.popen.pid for p in procs]}, procs)


def _wait_ready(proc: processes.Process) -> None:
    processes.wait_for(
        lambda: "ready" in proc.output() or not proc.alive(), 60, f"{proc.name} ready"
    )


def start_bridge(
    url: str, broker_url: str, concurrency: int, log_dir: Path, poll_flags: list[str]
) -> Side:
    env = processes.bridge_env(
        broker_url=broker_url, swf_endpoint=url, activities=ACTIVITIES_MODULE
    )
    # The worker boots while the poller starts (no task is scheduled before both are up).
    worker = processes.start_worker(env, log_dir, concurrency=concurrency, ready=False)
    try:
        poller = processes.start_poller(
            env, log_dir, domain=DOMAIN, task_list=TASK_LIST, extra=poll_flags
        )
    except Exception:
        worker.stop()
        raise
    try:
        processes.wait_worker_ready(worker)
    except Exception:
        poller.stop()
        raise
    return Side({"poller": [poller.popen.pid], "workers": [worker.popen.pid]}, [worker, poller])


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarize(
    workload: Workload, run: RunResult, cpu_s: dict[str, float], calls: dict[str, int]
) -> dict[str, Any]:
    """The per-scenario figures, from history timestamps, counters and CPU."""
    timings = list(run.timings.values())
    closed = [t for t in timings if t.closed is not None]
    n = len(timings)
    span_s = max(t.closed for t in closed if t.closed) - min(t.scheduled for t in timings)
    total_ms = [1000 * (t.closed - t.scheduled) for t in closed if t.closed]
    run_ms = [1000 * (t.closed - t.started) for t in closed if t.closed and t.started]
    pickup_ms = [1000 * (t.started - t.scheduled) for t in closed if t.started]
    activity_calls = {op: calls.get(op, 0) for op in ACTIVITY_OPS if calls.get(op)}
    completed = sum(1 for t in closed if t.status == "ActivityTaskCompleted")
    timed_out = sum(1 for t in closed if t.status == "ActivityTaskTimedOut")
    return {
        "tasks": n,
        "completed": completed,
        "timed_out": timed_out,
        "tasks_per_s": n / span_s if span_s > 0 else 0.0,
        "latency_ms": {"p50": _percentile(total_ms, 50), "p99": _percentile(total_ms, 99)},
        "start_to_close_ms": {"p50": _percentile(run_ms, 50), "p99": _percentile(run_ms, 99)},
        "schedule_to_start_ms": {
            "p50": _percentile(pickup_ms, 50),
            "p99": _percentile(pickup_ms, 99),
        },
        "swf_calls_per_task": sum(activity_calls.values()) / n,
        "swf_calls": activity_calls,
        "heartbeats_per_task": calls.get("RecordActivityTaskHeartbeat", 0) / n,
        "history_calls_per_task": calls.get(HISTORY_OP, 0) / n,
        "cpu_s_per_1000": {role: 1000 * spent / n for role, spent in cpu_s.items()},
        "decider_s": run.decider_s,
        "wall_s": run.wall_s,
    }


def run_scenario(
    *,
    side_name: str,
    workload: Workload,
    concurrency: int,
    log_dir: Path,
    broker_url: str,
    poll_timeout_s: float,
    timeout_s: float,
    poll_flags: list[str] | None = None,
) -> dict[str, Any]:
    """Run one workload on one side against a fresh endpoint; returns its figures."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with endpoint(log_dir, poll_timeout_s=poll_timeout_s) as swf:
        client = make_client(swf.url)
        prepare_domain(client, DOMAIN)
        if side_name == "native":
            side = start_native(swf.url, concurrency, log_dir)
        else:
            redis.Redis.from_url(broker_url).flushall()
            side = start_bridge(swf.url, broker_url, concurrency, log_dir, poll_flags or [])
        try:
            scheduler = Scheduler(client, DOMAIN)
            scheduler.run(Workload("warmup", "warm-up", NOOP, 4 * concurrency), timeout_s)
            roles = {**side.roles, "endpoint": [swf.process.popen.pid]}
            window = procstat.CpuWindow(roles)
            before = swf.admin.counts()
            decider_history_calls = scheduler.history_calls
            window.start()
            run = scheduler.run(workload, timeout_s)
            cpu_s = window.stop()
            calls = swf.admin.counts() - before
            # The activity side's history reads only, not the decider's own.
            calls[HISTORY_OP] -= scheduler.history_calls - decider_history_calls
            result = summarize(workload, run, cpu_s, dict(calls))
            result["peak_rss_mb"] = _peak_rss(side)
            if side_name == "bridge" and workload.mode == "sequential":
                result["hops_ms"] = hops.breakdown(
                    log_dir / "poller.log", log_dir / "worker.log", run.workflow_id, run.timings
                )
            return result
        finally:
            side.stop()


def _peak_rss(side: Side) -> dict[str, float]:
    rss: dict[str, float] = {}
    for role, pids in side.roles.items():
        tree = [p for root in pids for p in procstat.tree(root)]
        rss[role] = max((procstat.peak_rss_mb(p) for p in tree), default=0.0)
        if role == "workers" and "poller" in side.roles:
            # A prefork worker: its main process and its busiest pool child.
            rss["worker_main"] = max(procstat.peak_rss_mb(p) for p in pids)
            children = [p for root in pids for p in procstat.children(root)]
            rss["workers"] = max((procstat.peak_rss_mb(p) for p in children), default=0.0)
    return rss


def wait_quiet(seconds: float) -> None:
    """A pause between scenarios so that exiting processes do not overlap the next one."""
    time.sleep(seconds)
