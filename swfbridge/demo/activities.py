"""The activities of ``swfbridge demo`` (loaded by the demo's Celery worker).

Each shows one thing the bridge does: a plain call, a fan-out of small jobs,
progress reported by heartbeats, a failure chosen by the activity, and an
activity that stops when the decider cancels it.
"""

from __future__ import annotations

import time
from typing import Any

from swfbridge.activities.activity import Activity, activity
from swfbridge.errors import ActivityFailed

TASK_LIST = "swfbridge-demo"
VERSION = "1"

# Whole seconds, as SWF takes them. Generous: the demo must pass on a slow,
# busy machine; only the heartbeat timeout is short, so progress shows often.
_TIMEOUTS: dict[str, Any] = {"start_to_close": 60, "schedule_to_start": 120}


@activity(VERSION, task_list=TASK_LIST, **_TIMEOUTS)
class Hello(Activity):
    """Returns a greeting: input and result are plain JSON."""

    def run(self, name: str) -> str:
        return f"hello, {name}!"


@activity(VERSION, task_list=TASK_LIST, **_TIMEOUTS)
class Thumbnail(Activity):
    """One of many small jobs scheduled at once (a fan-out)."""

    def run(self, image: str, size: int = 128) -> dict[str, Any]:
        time.sleep(0.3)
        return {"image": image, "thumbnail": f"{image.rsplit('.', 1)[0]}-{size}.jpg"}


@activity(VERSION, task_list=TASK_LIST, heartbeat=2, **_TIMEOUTS)
class Transcode(Activity):
    """A long job that reports its progress with heartbeats."""

    def run(self, video: str, steps: int = 10, step_s: float = 0.5) -> dict[str, Any]:
        for step in range(1, steps + 1):
            time.sleep(step_s)
            self.heartbeat({"percent": round(100 * step / steps)})
        return {"video": video, "transcoded": f"{video}.webm"}


@activity(VERSION, task_list=TASK_LIST, **_TIMEOUTS)
class ChargeCard(Activity):
    """Fails the task on purpose, with a reason and JSON details for the decider."""

    def run(self, order_id: str, amount: float) -> None:
        raise ActivityFailed(
            "card declined",
            details={"order_id": order_id, "amount": amount, "code": "insufficient_funds"},
        )


@activity(VERSION, task_list=TASK_LIST, heartbeat=2, **_TIMEOUTS)
class Backup(Activity):
    """Would run for a minute; the decider cancels it and it stops at its next heartbeat."""

    def run(self, volume: str, duration_s: float = 60.0) -> str:
        started = time.monotonic()
        while time.monotonic() - started < duration_s:
            time.sleep(0.2)
            # Raises ActivityCancelled once SWF has asked to cancel this task:
            # the bridge then answers RespondActivityTaskCanceled.
            self.heartbeat({"copied_s": round(time.monotonic() - started, 1)})
        return f"{volume} backed up"
