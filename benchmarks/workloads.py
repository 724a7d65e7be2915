"""The benchmark workloads: activity types, their inputs and timeouts.

Both sides run the same three activity types with the same behaviour:

- ``BenchNoop``: returns at once.
- ``BenchSleep``: sleeps ``ms`` milliseconds.
- ``BenchBeat``: heartbeats in a loop for ``seconds``, pausing 1 ms between
  calls (a truly tight loop on 2 cores would starve the poller and the
  endpoint, and measure the scheduler instead of the bridge); it stops early
  once SWF no longer knows the task.

Input is flowy's ``[args, kwargs]`` JSON, the bridge's default wire format.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

TASK_LIST = "bench"
VERSION = "1"
START_TO_CLOSE_S = 300
SCHEDULE_TO_START_S = 3600
# The bridge sends heartbeats every 0.8 × this (coalescing the activity's calls).
HEARTBEAT_TIMEOUT_S = 2.0
BEAT_PAUSE_S = 0.001

NOOP = "BenchNoop"
ASYNC_NOOP = "BenchAsyncNoop"  # benchmarks/async_noop.py only
SLEEP = "BenchSleep"
BEAT = "BenchBeat"


@dataclass(frozen=True)
class Workload:
    """One workload: ``count`` activities of one type with one input."""

    key: str
    title: str
    activity: str
    count: int
    args: tuple[float, ...] = ()
    # "batch": all scheduled in one decision; "sequential": one at a time.
    mode: str = "batch"
    # Worker processes on each side; None: the run's --concurrency.
    concurrency: int | None = None
    # Bridge set-ups to compare, as (label, extra ``swfbridge poll`` flags);
    # None: the standard sides (native, the bridge's defaults, ...).
    bridge_sides: tuple[tuple[str, tuple[str, ...]], ...] | None = None

    @property
    def input(self) -> str:
        return json.dumps([list(self.args), {}])

    @property
    def heartbeat_timeout_s(self) -> float | None:
        return HEARTBEAT_TIMEOUT_S if self.activity == BEAT else None

    def heartbeat_call_budget(self) -> int | None:
        """The target: at most ceil(duration / (0.8 × timeout)) + 1 heartbeats per task."""
        if self.activity != BEAT:
            return None
        return math.ceil(self.args[0] / (0.8 * HEARTBEAT_TIMEOUT_S)) + 1


def full_workloads() -> list[Workload]:
    return [
        Workload("noop", "1,000 no-op activities", NOOP, 1000),
        Workload("sleep50", "200 activities of 50 ms", SLEEP, 200, (50,)),
        Workload(
            "heartbeat",
            "20 activities heartbeating for 5 s, C = 20",
            BEAT,
            20,
            (5.0,),
            concurrency=20,
        ),
        Workload("heartbeat-queued", "20 activities heartbeating for 5 s", BEAT, 20, (5.0,)),
        Workload("latency", "100 no-op activities, one at a time", NOOP, 100, mode="sequential"),
    ]


def quick_workloads() -> list[Workload]:
    return [
        Workload("noop", "100 no-op activities", NOOP, 100),
        Workload("sleep50", "40 activities of 50 ms", SLEEP, 40, (50,)),
        Workload(
            "heartbeat", "4 activities heartbeating for 2 s, C = 4", BEAT, 4, (2.0,), concurrency=4
        ),
        Workload("latency", "20 no-op activities, one at a time", NOOP, 20, mode="sequential"),
    ]


#: Where the poller takes each task's timeouts from (issue 12): the type's
#: registration (no SWF call per task) or the task's ActivityTaskScheduled event
#: (a GetWorkflowExecutionHistory read, cached per workflow run), the default.
TIMEOUT_SOURCE_SIDES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("swfbridge --timeouts-from registration", ("--timeouts-from", "registration")),
    ("swfbridge (timeouts from history, the default)", ()),
)


def timeout_source_workloads(quick: bool = False) -> list[Workload]:
    """History reads per task and latency, timeouts from the registration vs the history.

    Run only when named (``--workloads timeouts-fanout,timeouts-sequential``).
    """
    fanout, sequential = (100, 10) if quick else (1000, 50)
    return [
        Workload(
            "timeouts-fanout",
            f"{fanout:,} no-op activities scheduled in one decision",
            NOOP,
            fanout,
            bridge_sides=TIMEOUT_SOURCE_SIDES,
        ),
        Workload(
            "timeouts-sequential",
            f"{sequential} no-op activities, one per decision",
            NOOP,
            sequential,
            mode="sequential",
            bridge_sides=TIMEOUT_SOURCE_SIDES,
        ),
    ]


def slot_workloads(concurrency: int, pollers: int, quick: bool = False) -> list[Workload]:
    """No-op throughput with as many slots as worker processes, and with twice as many.

    With ``--max-in-flight`` equal to the fleet's concurrency, a worker that
    finishes a task waits for its slot's next dispatch (release, poll, record,
    publish, delivery) before it runs again; more slots keep a task waiting in
    the broker for each worker instead, its SWF clocks running. Run only when
    named (``--workloads slots``), next to ``noop`` for the native figure.
    """
    sides = tuple(
        (
            f"swfbridge --pollers {pollers} --max-in-flight {n}",
            ("--pollers", str(pollers), "--max-in-flight", str(n)),
        )
        for n in (concurrency, 2 * concurrency)
    )
    count = 100 if quick else 1000
    return [Workload("slots", f"{count:,} no-op activities", NOOP, count, bridge_sides=sides)]


def run_native(activity: str, args: list[float], heartbeat: object) -> object:
    """What the native worker runs for each type (``heartbeat`` calls SWF)."""
    import time

    if activity == NOOP:
        return None
    if activity == SLEEP:
        time.sleep(args[0] / 1000)
        return None
    if activity == BEAT:
        end = time.monotonic() + args[0]
        beats = 0
        while time.monotonic() < end:
            if not heartbeat(beats):  # type: ignore[operator]
                break  # SWF no longer knows the task: stop working
            beats += 1
            time.sleep(BEAT_PAUSE_S)
        return beats
    raise ValueError(f"unknown activity type {activity}")
