"""Cancellation: the decider cancels a running activity, which cleans up and stops.

The decider's ``RequestCancelActivityTask`` reaches the activity on its next
heartbeat: ``heartbeat()`` raises ``ActivityCancelled``. Let it propagate
(after cleaning up in ``finally``): the bridge answers
``RespondActivityTaskCanceled``. Code that does not heartbeat can check
``self.cancel_requested``.

Run it: ``python -m examples.cancellation`` (from the repository root).
"""

from __future__ import annotations

import time
from typing import Any

from swfbridge import FLOWY, Activity, activity
from swfbridge.testing import ScheduledActivity, start_activities

TASK_LIST = "examples-cancellation"


@activity("1.0", task_list=TASK_LIST, heartbeat=2, start_to_close=300)
class CopyFiles(Activity):
    def run(self, source: str, files: int = 10_000) -> int:
        copied = 0
        try:
            for _ in range(files):
                time.sleep(0.1)
                copied += 1
                self.heartbeat({"copied": copied})  # raises ActivityCancelled when asked
        finally:
            # Runs on cancellation too: release what the copy holds (temporary
            # files, locks) before the bridge reports the task canceled.
            self.cleaned_up = True
        return copied


def decide(client: Any, domain: str) -> str:
    """Start CopyFiles, cancel it once it has run a moment, return how it ended."""
    run = start_activities(
        client,
        domain=domain,
        task_list=TASK_LIST,
        activities=[
            ScheduledActivity("copy", "CopyFiles", "1.0", input=FLOWY.encode_input(["/data"], {}))
        ],
    )
    run.wait_started()
    time.sleep(1.5)  # let it copy a little
    run.request_cancel("copy")
    outcome = run.wait(timeout_s=60)["copy"]
    return f"{outcome.status} with details {outcome.details}"


if __name__ == "__main__":
    from examples._local import run_example

    print("result:", run_example(decide, module="examples.cancellation", task_lists=[TASK_LIST]))
