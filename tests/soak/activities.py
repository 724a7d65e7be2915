"""The activities the soak runs (``SWFBRIDGE_ACTIVITIES=tests.soak.activities``).

Every run records itself, before doing anything else, in the recorder Redis
(``SWFBRIDGE_SOAK_REDIS``, never the broker: it must survive broker restarts):
its key, its pid and its parent's pid (the worker's main process). The soak
tells from these which attempts ran twice and which ran in a process that was
killed.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import redis

from swfbridge import Activity, ActivityFailed, activity

TASK_LIST = "soak"
VERSION = "1"
RUNS_KEY = "soak:runs"
PLANNED_FAILURE = "soak: planned failure"

# Per-task timeouts come from the decider (ScheduledActivity); these defaults
# only have to exist. No schedule-to-start: a backlog waits in SWF.
_DEFAULTS: dict[str, Any] = {
    "task_list": TASK_LIST,
    "start_to_close": 60,
    "schedule_to_start": None,
    "schedule_to_close": None,
}
_client: dict[int, Any] = {}


def recorder() -> Any:
    pid = os.getpid()
    if pid not in _client:
        _client[pid] = redis.Redis.from_url(os.environ["SWFBRIDGE_SOAK_REDIS"])
    return _client[pid]


def record_run(key: str) -> None:
    entry = {"key": key, "pid": os.getpid(), "ppid": os.getppid(), "t": time.time()}
    recorder().rpush(RUNS_KEY, json.dumps(entry))


def result_for(key: str) -> str:
    return f"done:{key}"


@activity(VERSION, heartbeat=None, **_DEFAULTS)
class SoakQuick(Activity):
    """Short work, no heartbeat timeout."""

    def run(self, key: str, seconds: float) -> str:
        record_run(key)
        time.sleep(seconds)
        return result_for(key)


@activity(VERSION, heartbeat=5, **_DEFAULTS)
class SoakBeat(Activity):
    """Beats with progress details while it works (short heartbeat timeouts)."""

    def run(self, key: str, seconds: float) -> str:
        record_run(key)
        end = time.monotonic() + seconds
        step = 0
        while time.monotonic() < end:
            step += 1
            if not self.heartbeat({"step": step}):
                break  # SWF no longer knows the task: nobody reads the result
            time.sleep(0.1)
        return result_for(key)


@activity(VERSION, heartbeat=5, auto_heartbeat=True, **_DEFAULTS)
class SoakAutoBeat(Activity):
    """One long call that cannot beat: the bridge sends liveness heartbeats."""

    def run(self, key: str, seconds: float) -> str:
        record_run(key)
        time.sleep(seconds)
        return result_for(key)


@activity(VERSION, heartbeat=None, **_DEFAULTS)
class SoakFail(Activity):
    """Fails on purpose, with a reason the decider can read."""

    def run(self, key: str, seconds: float) -> str:
        record_run(key)
        time.sleep(seconds)
        raise ActivityFailed(PLANNED_FAILURE, details={"key": key})


@activity(VERSION, heartbeat=5, **_DEFAULTS)
class SoakCancellable(Activity):
    """Works until the decider cancels it (ActivityCancelled from heartbeat)."""

    def run(self, key: str, seconds: float) -> str:
        record_run(key)
        end = time.monotonic() + seconds
        step = 0
        while time.monotonic() < end:
            step += 1
            if not self.heartbeat({"step": step}):
                break
            time.sleep(0.1)
        return result_for(key)
