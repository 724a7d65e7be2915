"""Targets and the Markdown report, computed from the results dictionary."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

NATIVE = "native"
BRIDGE = "swfbridge"


def _find(results: dict[str, Any], workload: str, side: str) -> dict[str, Any] | None:
    for scenario in results["scenarios"]:
        if scenario["workload"] == workload and scenario["side"] == side:
            found: dict[str, Any] = scenario
            return found
    return None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target (issue 8's, as issue 16 restated them), with the value reached and
    whether it is met."""
    rows: list[dict[str, Any]] = []

    def add(target: str, value: str, met: bool) -> None:
        rows.append({"target": target, "value": value, "met": met})

    bridge_sides = sorted({s["side"] for s in results["scenarios"] if s["side"].startswith(BRIDGE)})
    for workload in ("noop", "sleep50"):
        native = _find(results, workload, NATIVE)
        for side in bridge_sides:
            bridge = _find(results, workload, side)
            if native and bridge and "error" not in native and "error" not in bridge:
                ratio = bridge["tasks_per_s"] / native["tasks_per_s"]
                # Capacity-aware polling waits for a free worker before each poll.
                floor = 0.85 if "--max-in-flight" in side else 0.9
                add(
                    f"throughput ≥ {floor} × native ({workload}; {side})",
                    f"{ratio:.2f} × ({bridge['tasks_per_s']:.0f} vs {native['tasks_per_s']:.0f}/s)",
                    ratio >= floor,
                )
        if workload != "noop" or not native or "error" in native:
            continue
        native_cpu = native["cpu_s_per_1000"].get("workers", 0.0)
        for side in bridge_sides:
            bridge = _find(results, workload, side)
            if bridge and "error" not in bridge and native_cpu > 0:
                cpu = bridge["cpu_s_per_1000"]
                total = cpu.get("poller", 0.0) + cpu.get("workers", 0.0)
                add(
                    f"bridge CPU per no-op task (poller + workers) ≤ 1.5 × native ({side})",
                    f"{total / native_cpu:.2f} × ({total:.2f} vs {native_cpu:.2f} ms)",
                    total <= 1.5 * native_cpu,
                )
    native = _find(results, "latency", NATIVE)
    for side in bridge_sides:
        bridge = _find(results, "latency", side)
        if native and bridge and "error" not in native and "error" not in bridge:
            added = bridge["latency_ms"]["p50"] - native["latency_ms"]["p50"]
            limit = 3 if "--max-in-flight" in side else 5
            add(
                f"added p50 latency ≤ {limit} ms (one task at a time; {side})",
                f"{added:+.1f} ms ({bridge['latency_ms']['p50']:.1f} vs "
                f"{native['latency_ms']['p50']:.1f} ms)",
                added <= limit,
            )
    bridge = _find(results, "heartbeat", BRIDGE)
    if bridge and "error" not in bridge and bridge.get("heartbeat_budget"):
        budget = bridge["heartbeat_budget"]
        add(
            f"heartbeat calls per task ≤ {budget}",
            f"{bridge['heartbeats_per_task']:.1f} (native: "
            f"{(_find(results, 'heartbeat', NATIVE) or {}).get('heartbeats_per_task', 0):.0f})",
            bridge["heartbeats_per_task"] <= budget,
        )
    alone = results.get("poller_alone")
    if alone:
        for row in alone["ceiling"]:
            if row["dispatcher"] == "none" or row.get("processes", 1) > 1:
                continue
            add(
                f"poller dispatch ceiling ≥ 2,000 tasks/s per process ({row['variant']})",
                f"{row['tasks_per_s']:.0f} tasks/s",
                row["tasks_per_s"] >= 2000,
            )
            add(
                f"poller CPU ≤ 0.4 ms per task, no HTTP ({row['variant']})",
                f"{row['cpu_ms_per_task']:.2f} ms",
                row["cpu_ms_per_task"] <= 0.4,
            )
    for side in bridge_sides:
        bridge = _find(results, "noop", side)
        if bridge and "error" not in bridge:
            cpu = bridge["cpu_s_per_1000"].get("poller", 0.0)
            add(
                f"poller CPU ≤ 1.0 ms per task (end to end, SWF poll included; {side})",
                f"{cpu:.2f} ms",
                cpu <= 1.0,
            )
    if alone:
        growth = alone["growth"]
        rss0, rss1 = growth["rss_mb"]
        cpu0, cpu1 = growth["cpu_ms_per_task"]
        first, total = growth["tasks"]
        # 10 % (or 2 MiB) is the noise floor of a shared machine.
        add(
            f"no RSS growth {first:,} → {total:,} tasks",
            f"{rss0:.1f} → {rss1:.1f} MiB",
            rss1 - rss0 <= max(2.0, 0.1 * rss0),
        )
        add(
            f"no per-task CPU growth {first:,} → {total:,} tasks",
            f"{cpu0:.3f} → {cpu1:.3f} ms",
            cpu1 <= 1.1 * cpu0 + 0.02,
        )
    return rows


def _ms(pair: dict[str, float]) -> str:
    return f"{pair['p50']:.1f} / {pair['p99']:.1f}"


def markdown(results: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    lines: list[str] = []
    lines += [
        "### End to end (C: worker processes on each side)",
        "",
        "Latency is schedule → close from SWF history timestamps; start → close is the part "
        "after the poll (for the bridge: the Celery hop, the run and the respond). "
        "CPU is seconds per 1,000 tasks (= ms per task). SWF calls are the activity side's "
        "(polls, heartbeats, responds), counted by the endpoint.",
        "",
        "| workload | side | C | tasks/s | latency p50 / p99 ms | start→close p50 / p99 ms "
        "| SWF calls/task | heartbeats/task | timed out | CPU poller | CPU workers | CPU endpoint "
        "| peak RSS poller MiB | peak RSS worker MiB |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for s in results["scenarios"]:
        if "error" in s:
            lines.append(
                f"| {s['title']} | {s['side']} | {s['concurrency']} "
                f"| error: {s['error']} | | | | | | | | | | |"
            )
            continue
        cpu, rss = s["cpu_s_per_1000"], s["peak_rss_mb"]
        lines.append(
            f"| {s['title']} | {s['side']} | {s['concurrency']} | {s['tasks_per_s']:.1f} "
            f"| {_ms(s['latency_ms'])} "
            f"| {_ms(s['start_to_close_ms'])} | {s['swf_calls_per_task']:.2f} "
            f"| {s['heartbeats_per_task']:.1f} | {s['timed_out']} | {cpu.get('poller', 0):.2f} "
            f"| {cpu.get('workers', 0):.2f} | {cpu.get('endpoint', 0):.2f} "
            f"| {rss.get('poller', 0):.0f} | {rss.get('workers', 0):.0f} |"
        )
    for s in results["scenarios"]:
        if s.get("hops_ms"):
            lines += [
                "",
                f"Where the bridge's time goes, {s['title']}, {s['side']} (medians, "
                "from the processes' millisecond log stamps and SWF history): "
                + "; ".join(f"{name} {ms:.1f} ms" for name, ms in s["hops_ms"].items())
                + ".",
            ]
    lines += _side_by_side(results)
    alone = results.get("poller_alone")
    if alone:
        lines += [
            "",
            "### The poller alone (fake in-process SWF client, no HTTP)",
            "",
            "| set-up | poll threads | tasks | tasks/s | CPU ms/task |",
            "|---|--:|--:|--:|--:|",
        ]
        for row in alone["ceiling"]:
            lines.append(
                f"| {row['variant']} | {row['threads']} | {row['tasks']:,} "
                f"| {row['tasks_per_s']:.0f} | {row['cpu_ms_per_task']:.3f} |"
            )
        growth = alone["growth"]
        lines += [
            "",
            f"| after tasks | poller RSS MiB | CPU ms/task (window of {growth['tasks'][0]:,}) |",
            "|--:|--:|--:|",
        ]
        for n, rss, cpu in zip(
            growth["tasks"], growth["rss_mb"], growth["cpu_ms_per_task"], strict=True
        ):
            lines.append(f"| {n:,} | {rss:.1f} | {cpu:.3f} |")
    lines += ["", "### Targets", "", "| target | reached | met |", "|---|---|---|"]
    for row in results["targets"]:
        lines.append(f"| {row['target']} | {row['value']} | {'yes' if row['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def _side_by_side(results: dict[str, Any]) -> list[str]:
    """Workloads run on several bridge set-ups only (e.g. where timeouts come from)."""
    compared = [
        s for s in results["scenarios"] if s.get("compares_bridge_sides") and "error" not in s
    ]
    if not compared:
        return []
    lines = [
        "",
        "### Bridge set-ups side by side",
        "",
        "History calls are the activity side's GetWorkflowExecutionHistory calls "
        "(the decider's own are not counted), per task, at the endpoint.",
        "",
        "| workload | side | history calls/task | SWF calls/task | latency p50 / p99 ms "
        "| tasks/s | timed out |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for s in compared:
        lines.append(
            f"| {s['title']} | {s['side']} | {s.get('history_calls_per_task', 0):.2f} "
            f"| {s['swf_calls_per_task']:.2f} | {_ms(s['latency_ms'])} "
            f"| {s['tasks_per_s']:.1f} | {s['timed_out']} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.report RESULTS.json``: print the Markdown of saved results."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.report RESULTS.json", file=sys.stderr)
        return 2
    results = json.loads(Path(args[0]).read_text())
    results["targets"] = targets(results)
    print(markdown(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
