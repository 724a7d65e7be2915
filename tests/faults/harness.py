"""Fault-suite plumbing: a restartable broker, bridge processes, the result table."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swfbridge.testing import (
    ActivityOutcome,
    ActivityRun,
    LocalSWF,
    ScheduledActivity,
    start_activities,
)
from tests.faults.activities import RUNS_KEY, TASK_LIST
from tests.support import processes


class RestartableRedis:
    """A redis-server on a fixed port that can be stopped and started again.

    Append-only with fsync on every write, so what was queued survives a restart.
    """

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.workdir = workdir
        self.port = processes.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: processes.Process | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.proc = processes.spawn(
            f"redis-{self.starts}",
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.workdir),
            ],
            dict(os.environ),
            self.workdir,
        )
        processes.wait_for(lambda: processes.port_open(self.port), 10, "redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()  # SIGTERM: redis flushes its append-only file
            self.proc = None


@dataclass
class Row:
    scenario: str
    scheduled: int
    completed: int = 0
    failed_with_reason: int = 0
    timed_out: int = 0
    duplicates: int = 0
    other: int = 0
    notes: list[str] = field(default_factory=list)


def tally(
    scenario: str,
    outcomes: dict[str, ActivityOutcome],
    runs: Counter[str],
    expected: dict[str, str],
) -> Row:
    """Classify every outcome; ``expected`` maps activity id to its right result."""
    row = Row(scenario=scenario, scheduled=len(expected))
    for activity_id, outcome in outcomes.items():
        if outcome.status == "completed":
            if outcome.result is not None and json.loads(outcome.result) == expected[activity_id]:
                row.completed += 1
            else:
                row.other += 1
                row.notes.append(f"{activity_id}: wrong result {outcome.result!r}")
        elif outcome.status == "failed" and (outcome.reason or "").startswith("swfbridge: "):
            row.failed_with_reason += 1
            row.notes.append(f"{activity_id}: {outcome.reason}")
        elif outcome.status == "timed_out":
            row.timed_out += 1
            ran = runs[activity_id] > 0
            row.notes.append(
                f"{activity_id}: timed out ({outcome.timeout_type}, "
                f"{'after running' if ran else 'never ran'})"
            )
        else:
            row.other += 1
            row.notes.append(f"{activity_id}: {outcome.status} {outcome.reason!r}")
    row.duplicates = sum(max(0, n - 1) for n in runs.values())
    return row


def runs_by_key(recorder: Any, keys: Sequence[str]) -> Counter[str]:
    wanted = set(keys)
    return Counter(k.decode() for k in recorder.lrange(RUNS_KEY, 0, -1) if k.decode() in wanted)


ROWS: list[Row] = []
"""Every scenario's row, for the table printed at the end of the run (see conftest)."""


def schedule(
    swf: LocalSWF,
    domain: str,
    specs: Sequence[str],
    *,
    activity: str = "Work",
    sleep_s: float,
    timeout_s: float,
    start_to_close: str | None = None,
) -> ActivityRun:
    """Start one ``activity`` per spec on the fault task list, in the background.

    Each records its run under its spec, sleeps ``sleep_s`` and returns
    ``done:<spec>`` (see :mod:`tests.faults.activities`). ``start_to_close``
    None keeps the type's default.
    """
    return start_activities(
        swf.client(),
        domain=domain,
        task_list=TASK_LIST,
        timeout_s=timeout_s,
        activities=[
            ScheduledActivity(
                a,
                activity,
                "1",
                input=json.dumps([[a, sleep_s], {}]),
                start_to_close=start_to_close,
            )
            for a in specs
        ],
    )


def record(
    name: str, outcomes: dict[str, ActivityOutcome], recorder: Any, specs: Sequence[str]
) -> Row:
    """Tally the outcomes of :func:`schedule`'s activities and add the row to :data:`ROWS`."""
    row = tally(name, outcomes, runs_by_key(recorder, specs), {a: f"done:{a}" for a in specs})
    ROWS.append(row)
    return row


def logs(*procs: processes.Process, tail: int = 4000) -> str:
    """The last ``tail`` characters each process wrote, under its name."""
    return "\n".join(f"--- {p.name}\n{p.output()[-tail:]}" for p in procs)


def table(rows: Sequence[Row]) -> str:
    headers = (
        "scenario",
        "scheduled",
        "completed",
        "failed with reason",
        "timed out",
        "duplicates",
        "other",
    )
    data = [
        (
            r.scenario,
            r.scheduled,
            r.completed,
            r.failed_with_reason,
            r.timed_out,
            r.duplicates,
            r.other,
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *data, strict=True)]
    line = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    out = [line.format(*headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line.format(*map(str, d)) for d in data]
    return "\n".join(out)


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def kill9_group(proc: processes.Process) -> None:
    """kill -9 the process (and only it: a poller has no children)."""
    proc.popen.send_signal(signal.SIGKILL)
    try:
        proc.popen.wait(10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()


def timed_out_unstarted(row: Row, workers: Sequence[processes.Process]) -> list[str]:
    """Notes of activities that timed out though no process ever held them.

    The recorder marks an activity "ran" when its ``run`` begins. A worker
    killed after its claim of the attempt reached the state store, and before
    that, held it all the same: its redelivered copy is dropped by the claim,
    and SWF times it out. Such an attempt shows in ``workers``' logs either as
    the killed process's ``running: ... activity=<id>`` line or, when the kill
    came between the claim and that line (CI saw it, at 20:41 on 2026-12-03),
    as another worker's "duplicate delivery dropped" line for it. Those are not
    counted here.
    """
    outputs = "\n".join(p.output() for p in workers)
    held = {
        line.split("activity=", 1)[1].split(" type=", 1)[0]
        for line in outputs.splitlines()
        if ("running: " in line or "claimed already: " in line) and "activity=" in line
    }
    notes = []
    for note in row.notes:
        if "never ran" not in note:
            continue
        spec = note.split(": timed out", 1)[0]
        if spec not in held:
            notes.append(note)
    return notes
