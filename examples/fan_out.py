"""Fan-out: one decision schedules many activities; the workers run them in parallel.

Run it: ``python -m examples.fan_out`` (from the repository root).
"""

from __future__ import annotations

import json
from typing import Any

from swfbridge import FLOWY, Activity, activity
from swfbridge.testing import ScheduledActivity, run_activities

TASK_LIST = "examples-fan-out"
COUNT = 40


@activity("1.0", task_list=TASK_LIST, start_to_close=60)
class Square(Activity):
    def run(self, n: int) -> int:
        return n * n


def decide(client: Any, domain: str) -> int:
    """Square 1..COUNT in parallel and return the sum of the squares."""
    outcomes = run_activities(
        client,
        domain=domain,
        task_list=TASK_LIST,
        timeout_s=120,
        activities=[
            ScheduledActivity(f"square-{n}", "Square", "1.0", input=FLOWY.encode_input([n], {}))
            for n in range(1, COUNT + 1)
        ],
    )
    failed = [o for o in outcomes.values() if o.status != "completed"]
    assert not failed, failed
    return sum(json.loads(o.result or "0") for o in outcomes.values())


if __name__ == "__main__":
    from examples._local import run_example

    total = run_example(decide, module="examples.fan_out", task_lists=[TASK_LIST])
    print(f"result: sum of squares 1..{COUNT} = {total}")
