"""flowy-era activities, unchanged but for the registration decorator."""

from __future__ import annotations

from typing import Any

from swfbridge import SIMPLEFLOW, Activity, activity

TASK_LIST = "migration-tasks"
TIMEOUTS: dict[str, Any] = {"start_to_close": 60, "schedule_to_start": 120}


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class LegacyAdd(Activity):
    """flowy's plain style: JSON ``[args, kwargs]`` in, JSON out."""

    def run(self, a: int, b: int = 10) -> int:
        return a + b


@activity("1", task_list=TASK_LIST, heartbeat=30, **TIMEOUTS)
class CsvSum(Activity):
    """Overrides both of flowy's transport hooks: CSV in, plain text out."""

    def _deserialize_arguments(self, input: str) -> Any:
        return [int(part) for part in input.split(",")], {}

    def _serialize_result(self, value: Any) -> str:
        return "sum={} heartbeat={} token={}".format(*value)

    def run(self, *numbers: int) -> Any:
        alive = self.heartbeat()
        return sum(numbers), alive, bool(self.token)


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class SimpleflowAdd(Activity):
    """A class-based activity whose deciders speak simpleflow's format."""

    wire_format = SIMPLEFLOW

    def run(self, a: int, b: int = 10) -> int:
        return a + b
