"""Hello world: one activity, scheduled once, its result read back.

Run it: ``python -m examples.hello_world`` (from the repository root).
"""

from __future__ import annotations

import json
from typing import Any

from swfbridge import FLOWY, Activity, activity
from swfbridge.testing import ScheduledActivity, run_activities

TASK_LIST = "examples-hello"


@activity("1.0", task_list=TASK_LIST, start_to_close=60)
class Hello(Activity):
    def run(self, name: str, punctuation: str = "!") -> str:
        return f"hello, {name}{punctuation}"


def decide(client: Any, domain: str) -> str:
    """Schedule Hello("world") and return its result."""
    outcomes = run_activities(
        client,
        domain=domain,
        task_list=TASK_LIST,
        activities=[
            ScheduledActivity(
                "hello-1",
                "Hello",
                "1.0",
                # flowy's format: [args, kwargs]
                input=FLOWY.encode_input(["world"], {}),
            )
        ],
    )
    outcome = outcomes["hello-1"]
    assert outcome.status == "completed", outcome
    return str(json.loads(outcome.result or "null"))


if __name__ == "__main__":
    from examples._local import run_example

    print("result:", run_example(decide, module="examples.hello_world", task_lists=[TASK_LIST]))
