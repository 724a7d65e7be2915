"""The benchmark activities as swfbridge runs them (``SWFBRIDGE_ACTIVITIES``)."""

from __future__ import annotations

import time

from benchmarks.workloads import (
    BEAT_PAUSE_S,
    HEARTBEAT_TIMEOUT_S,
    SCHEDULE_TO_START_S,
    START_TO_CLOSE_S,
    TASK_LIST,
    VERSION,
)
from swfbridge import Activity, activity

_TIMEOUTS = {
    "task_list": TASK_LIST,
    "start_to_close": START_TO_CLOSE_S,
    "schedule_to_start": SCHEDULE_TO_START_S,
}


@activity(VERSION, **_TIMEOUTS)  # type: ignore[arg-type]
class BenchNoop(Activity):
    def run(self) -> None:
        return None


@activity(VERSION, **_TIMEOUTS)  # type: ignore[arg-type]
class BenchAsyncNoop(Activity):
    async def run(self) -> None:
        return None


@activity(VERSION, **_TIMEOUTS)  # type: ignore[arg-type]
class BenchSleep(Activity):
    def run(self, ms: float) -> None:
        time.sleep(ms / 1000)


@activity(VERSION, heartbeat=HEARTBEAT_TIMEOUT_S, **_TIMEOUTS)  # type: ignore[arg-type]
class BenchBeat(Activity):
    def run(self, seconds: float) -> int:
        end = time.monotonic() + seconds
        beats = 0
        while time.monotonic() < end:
            if not self.heartbeat(beats):
                break  # SWF no longer knows the task: stop working
            beats += 1
            time.sleep(BEAT_PAUSE_S)
        return beats
