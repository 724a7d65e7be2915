"""Activities for the per-task timeout tests (test_task_timeouts.py).

Every type here is registered WITHOUT the timeout its test depends on
(heartbeat NONE, or a long start-to-close): the decider sets it per task,
and only the task's ActivityTaskScheduled event knows it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from swfbridge import Activity, activity

TASK_LIST = "to-tasks"
# Generous schedule-to-start: tasks may wait behind others in these tests.
COMMON: dict[str, Any] = {"task_list": TASK_LIST, "schedule_to_start": 120}


@activity("1", heartbeat=None, start_to_close=60, **COMMON)
class BeatsForAWhile(Activity):
    """Heartbeats as fast as it can for ``seconds``; returns how often it called heartbeat()."""

    def run(self, seconds: float) -> int:
        end = time.monotonic() + seconds
        count = 0
        while time.monotonic() < end:
            count += 1
            self.heartbeat({"count": count})
            time.sleep(0.001)  # leave the 2-core CI machine some air
        return count


@activity("1", heartbeat=None, start_to_close=60, **COMMON)
class CooperativeUntilCancelled(Activity):
    """Notes that it started, then heartbeats in a loop; lets ActivityCancelled propagate."""

    def run(self, seconds: float, started_marker: str) -> str:
        Path(started_marker).write_text("started")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.heartbeat("working")
            time.sleep(0.05)
        return "finished"


@activity("1", heartbeat=None, start_to_close=60, auto_heartbeat=True, **COMMON)
class SleepsUntilCancelled(Activity):
    """Notes that it started, then is stuck in time.sleep (only liveness heartbeats run)."""

    def run(self, seconds: float, started_marker: str) -> str:
        Path(started_marker).write_text("started")
        time.sleep(seconds)
        return "slept"


@activity("1", heartbeat=None, start_to_close=300, **COMMON)
class SleepsPastItsDeadline(Activity):
    """Sleeps longer than the start-to-close its decider gives it."""

    def run(self, seconds: float) -> str:
        time.sleep(seconds)
        return "too late"
