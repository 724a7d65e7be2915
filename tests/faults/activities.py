"""Activities the fault-injection suite runs: each records every run it makes."""

from __future__ import annotations

import os
import time
from typing import Any

import redis

from swfbridge import Activity, activity

TASK_LIST = "faults"
RUNS_KEY = "faults:runs"
_client: dict[int, Any] = {}


def recorder() -> Any:
    """The Redis where runs are recorded (not the broker: it survives broker faults)."""
    pid = os.getpid()
    if pid not in _client:
        _client[pid] = redis.Redis.from_url(os.environ["SWFBRIDGE_FAULTS_REDIS"])
    return _client[pid]


def _record(key: str) -> None:
    recorder().rpush(RUNS_KEY, key)
    recorder().set(f"faults:pid:{key}", os.getpid(), ex=600)


@activity(
    "1",
    task_list=TASK_LIST,
    start_to_close=15,
    schedule_to_start=300,
    schedule_to_close=None,
    heartbeat=None,
)
class Work(Activity):
    def run(self, key: str, sleep_s: float = 0.1) -> str:
        _record(key)
        time.sleep(sleep_s)
        return f"done:{key}"


@activity(
    "1",
    task_list=TASK_LIST,
    start_to_close=6,
    schedule_to_start=300,
    schedule_to_close=None,
    heartbeat=None,
)
class ShortWork(Activity):
    """Work with a short start-to-close: what a killed worker was running times
    out, and the capacity slots it held heal (deadline + grace), sooner."""

    def run(self, key: str, sleep_s: float = 0.1) -> str:
        _record(key)
        time.sleep(sleep_s)
        return f"done:{key}"


@activity(
    "1",
    task_list=TASK_LIST,
    start_to_close=15,
    schedule_to_start=300,
    schedule_to_close=None,
    heartbeat=1.5,
    auto_heartbeat=True,
)
class Beat(Activity):
    """Short heartbeat timeout: times out if left queued without heartbeats."""

    def run(self, key: str, sleep_s: float = 0.1) -> str:
        _record(key)
        time.sleep(sleep_s)
        return f"done:{key}"


@activity(
    "1",
    task_list=TASK_LIST,
    start_to_close=60,
    schedule_to_start=300,
    schedule_to_close=None,
    heartbeat=8,
    auto_heartbeat=True,
)
class SlowBeat(Activity):
    """A heartbeat timeout longer than a poller's restart, shorter than its wait."""

    def run(self, key: str, sleep_s: float = 0.1) -> str:
        _record(key)
        time.sleep(sleep_s)
        return f"done:{key}"
