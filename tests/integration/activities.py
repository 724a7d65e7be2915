"""Activities the integration tests run through real workers."""

from __future__ import annotations

from typing import Any

from swfbridge import JSON, Activity, ActivityFailed, activity

TASK_LIST = "it-tasks"
TIMEOUTS: dict[str, Any] = {"start_to_close": 60, "schedule_to_start": 120}


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class Add(Activity):
    def run(self, a: int, b: int = 10) -> int:
        return a + b


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class Echo(Activity):
    """The seed's example: any signature."""

    def run(self, value: Any = None, *args: Any, **kwargs: Any) -> Any:
        return (value, *args, *kwargs.values())


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class Greet(Activity):
    def run(self, *, name: str, greeting: str = "hello") -> str:
        return f"{greeting} {name}"


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class Refuse(Activity):
    def run(self, why: str) -> None:
        raise ActivityFailed(f"refused: {why}", details={"why": why})


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class Explode(Activity):
    def run(self, length: int) -> None:
        raise ValueError("x" * length)


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class ReturnSet(Activity):
    def run(self) -> Any:
        return {1, 2, 3}


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class ReturnHuge(Activity):
    def run(self, size: int) -> str:
        return "x" * size


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class TokenLength(Activity):
    def run(self) -> int:
        return len(self.token)


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class DescribeJson(Activity):
    """One JSON value in, as the single argument (or none: no arguments)."""

    wire_format = JSON

    def run(self, *args: Any) -> Any:
        return {"args": list(args)}
