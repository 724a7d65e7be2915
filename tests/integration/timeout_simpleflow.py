"""A simpleflow workflow of three functions, decided by simpleflow's own decider.

simpleflow registers the functions' activity types itself on first use, with
"0" for every default timeout, and sends all four timeouts with every
ScheduleActivityTask decision (the values below). The bridge's worker runs the
functions by import path (``SWFBRIDGE_FUNCTION_PREFIXES``).
"""

from __future__ import annotations

from typing import Any

from simpleflow import Workflow, activity

ACTIVITY_TASK_LIST = "to-simpleflow"
DECISION_TASK_LIST = "to-simpleflow-decisions"
_PER_TASK: dict[str, Any] = {
    "task_list": ACTIVITY_TASK_LIST,
    "version": "1",
    "raises_on_failure": True,
    "start_to_close_timeout": 60,
    "schedule_to_start_timeout": 120,
    "schedule_to_close_timeout": 180,
    "heartbeat_timeout": 30,
}


@activity.with_attributes(**_PER_TASK)
def double(x: int) -> int:
    return 2 * x


@activity.with_attributes(**_PER_TASK)
def increment(x: int) -> int:
    return x + 1


@activity.with_attributes(**_PER_TASK)
def describe(x: int) -> str:
    return f"result: {x}"


class ThreeSteps(Workflow):
    """double, then increment, then describe: ``ThreeSteps(20)`` returns "result: 41"."""

    name = "swfbridge-timeouts-three-steps"
    version = "1"
    task_list = DECISION_TASK_LIST

    def run(self, x: int) -> str:
        doubled = self.submit(double, x)
        incremented = self.submit(increment, doubled.result)
        described: str = self.submit(describe, incremented.result).result
        return described
