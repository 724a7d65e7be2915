"""Activities for the heartbeat, cancellation and deadline tests (test_heartbeats.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from swfbridge import Activity, activity

TASK_LIST = "hb-tasks"
# Generous schedule-to-start: tasks may wait behind others in these tests.
COMMON: dict[str, Any] = {"task_list": TASK_LIST, "schedule_to_start": 120}


def _touch(path: str, text: str) -> None:
    Path(path).write_text(text)


@activity("1", heartbeat=5, start_to_close=60, **COMMON)
class TightLoop(Activity):
    """Heartbeats as fast as it can for ``seconds``."""

    def run(self, seconds: float) -> int:
        end = time.monotonic() + seconds
        count = 0
        while time.monotonic() < end:
            count += 1
            self.heartbeat({"count": count})
            time.sleep(0.001)  # leave the 2-core CI machine some air
        return count


@activity("1", heartbeat=2, start_to_close=60, **COMMON)
class Stall(Activity):
    """Reports progress, then stops heartbeating (stuck on something)."""

    def run(self, steps: int, stall_s: float) -> str:
        for step in range(1, steps + 1):
            self.heartbeat({"step": step, "of": steps})
        time.sleep(stall_s)
        return "woke up"


@activity("1", heartbeat=2, start_to_close=60, **COMMON)
class Cooperative(Activity):
    """Heartbeats in a loop; lets ActivityCancelled propagate."""

    def run(self, seconds: float) -> str:
        end = time.monotonic() + seconds
        step = 0
        while time.monotonic() < end:
            step += 1
            self.heartbeat({"step": step})
            time.sleep(0.05)
        return "finished"


@activity("1", heartbeat=2, start_to_close=60, auto_heartbeat=True, **COMMON)
class SleepsThroughCancel(Activity):
    """Stuck in time.sleep; only the automatic liveness heartbeat runs."""

    def run(self, seconds: float) -> str:
        time.sleep(seconds)
        return "slept"


@activity("1", heartbeat=2, start_to_close=60, **COMMON)
class Stubborn(Activity):
    """Heartbeats in a loop and ignores ``heartbeat() == False``; notes when interrupted."""

    def run(self, seconds: float, marker: str) -> str:
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                self.heartbeat("still going")
                time.sleep(0.05)
        except SoftTimeLimitExceeded:
            _touch(marker, "interrupted")
            raise
        _touch(marker, "ran to the end")
        return "finished"


@activity("1", start_to_close=4, **COMMON)
class Overrun(Activity):
    """Runs past its start-to-close timeout."""

    def run(self, seconds: float) -> str:
        time.sleep(seconds)
        return "too late"


@activity("1", start_to_close=30, **COMMON)
class Block(Activity):
    """Keeps a worker slot busy."""

    def run(self, seconds: float) -> str:
        time.sleep(seconds)
        return "unblocked"


@activity("1", start_to_close=2, **COMMON)
class Marker(Activity):
    """Leaves a file behind if it ever runs."""

    def run(self, path: str) -> str:
        _touch(path, "ran")
        return "ran"


@activity("1", heartbeat=10, start_to_close=60, **COMMON)
class Progress(Activity):
    """Heartbeats for a few seconds (fault-injection test)."""

    def run(self, seconds: float) -> str:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.heartbeat("tick")
            time.sleep(0.05)
        return "done"
