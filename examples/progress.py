"""A long activity that reports its progress with heartbeats.

``heartbeat(details)`` may be called as often as you like: the bridge sends the
latest details to SWF at most every 0.8 x the heartbeat timeout. Its return
value says whether SWF still wants the result.

Run it: ``python -m examples.progress`` (from the repository root).
"""

from __future__ import annotations

import json
import time
from typing import Any

from swfbridge import FLOWY, Activity, activity
from swfbridge.testing import ScheduledActivity, run_activities

TASK_LIST = "examples-progress"


@activity("1.0", task_list=TASK_LIST, heartbeat=2, start_to_close=120)
class EncodeVideo(Activity):
    def run(self, video: str, chunks: int = 20) -> dict[str, Any]:
        for chunk in range(1, chunks + 1):
            time.sleep(0.25)  # the real work
            if not self.heartbeat({"chunk": chunk, "of": chunks}):
                # SWF no longer knows the task (timed out, workflow closed).
                return {"video": video, "abandoned_at": chunk}
        return {"video": video, "encoded": f"{video}.webm"}


def decide(client: Any, domain: str) -> dict[str, Any]:
    outcomes = run_activities(
        client,
        domain=domain,
        task_list=TASK_LIST,
        activities=[
            ScheduledActivity(
                "encode", "EncodeVideo", "1.0", input=FLOWY.encode_input(["talk.mp4"], {})
            )
        ],
    )
    outcome = outcomes["encode"]
    assert outcome.status == "completed", outcome
    return dict(json.loads(outcome.result or "{}"))


if __name__ == "__main__":
    from examples._local import run_example

    def show(activity_id: str, details: Any) -> None:
        print(f"heartbeat from {activity_id}: {details}")

    result = run_example(
        decide, module="examples.progress", task_lists=[TASK_LIST], on_heartbeat=show
    )
    print("result:", result)
