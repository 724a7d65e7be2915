"""Smoke test of the benchmark harness: ``python -m benchmarks --quick`` runs end to end.

No timing assertions (the machines are shared): only that every scenario ran
and produced sane, non-zero figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.workloads import quick_workloads
from tests.support.processes import REPO_ROOT


def test_quick_mode_produces_every_scenario_with_sane_figures(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    table = tmp_path / "results.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            # Each scenario ends by stopping its pollers, which first finish the
            # long poll under way: 1 s instead of the default 5 s, for all 8.
            "--poll-timeout",
            "1",
            "--json",
            str(out),
            "--markdown",
            str(table),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())

    expected = {(w.key, side) for w in quick_workloads() for side in ("native", "swfbridge")}
    scenarios = {(s["workload"], s["side"]): s for s in results["scenarios"]}
    assert set(scenarios) == expected
    for (workload, side), s in scenarios.items():
        assert "error" not in s, s
        assert s["completed"] == s["tasks"] > 0, s
        assert s["tasks_per_s"] > 0
        assert 0 < s["latency_ms"]["p50"] <= s["latency_ms"]["p99"]
        # About one poll and one respond per task (a poll begun before the window is not counted).
        assert s["swf_calls_per_task"] > 1.5
        assert s["cpu_s_per_1000"]["workers"] > 0
        assert s["peak_rss_mb"]["workers"] > 0
        if side == "swfbridge":
            assert s["peak_rss_mb"]["poller"] > 0
        if workload == "heartbeat":
            assert s["heartbeats_per_task"] >= 1

    alone = results["poller_alone"]
    assert {c["dispatcher"] for c in alone["ceiling"]} == {"none", "celery-redis"}
    assert all(c["tasks_per_s"] > 0 and c["cpu_ms_per_task"] > 0 for c in alone["ceiling"])
    assert all(v > 0 for v in alone["growth"]["rss_mb"] + alone["growth"]["cpu_ms_per_task"])
    assert {t["target"] for t in results["targets"]}  # every target evaluated
    assert "| target | reached | met |" in table.read_text()
    assert results["machine"]["nproc"] >= 1


def test_the_async_noop_benchmark_prints_both_kinds_in_process_and_on_a_real_worker() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.async_noop",
            "--tasks",
            "5",
            "--rounds",
            "1",
            "--in-process-tasks",
            "50",
            "--poll-timeout",
            "1",  # the bridge's stop waits for the poll under way
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "in-process executor, CPU per task: sync " in done.stdout
    assert "real worker (-c 1), CPU per task" in done.stdout


def test_the_worker_split_benchmark_prints_main_and_children_per_round() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.worker_split",
            "--tasks",
            "5",
            "--rounds",
            "1",
            "--concurrency",
            "1",
            "--poll-timeout",
            "1",  # the bridge's stop waits for the poll under way
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "round 0: workers " in done.stdout and "(main " in done.stdout
    assert "median: workers " in done.stdout


def test_the_swf_call_benchmark_prints_boto3_and_direct_per_round() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.swf_call", "--count", "20", "--rounds", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "round 1: PollForActivityTask CPU per call: boto3 " in done.stdout
    assert " ms, direct " in done.stdout


def test_the_full_fleet_benchmark_prints_tasks_per_second_and_commands_per_task(
    redis_url: str,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.full_fleet", "--broker", redis_url, "--count", "30"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tasks_per_s"] > 0 and result["redis_commands_per_task"]["brpop"] >= 1
