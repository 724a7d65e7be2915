"""The demo workflow: what the decider schedules and how each activity should end."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from swfbridge.demo.activities import TASK_LIST, VERSION
from swfbridge.testing.decider import OutcomeStatus, ScheduledActivity

CANCELED_ACTIVITY = "backup"
"""The activity the demo's decider cancels once it runs."""


def _flowy(*args: Any, **kwargs: Any) -> str:
    return json.dumps([list(args), kwargs])


@dataclass(frozen=True)
class Step:
    """One activity of the workflow and the status it should close with."""

    activity: ScheduledActivity
    expected: OutcomeStatus


def _step(activity_id: str, name: str, expected: OutcomeStatus, *args: Any, **kwargs: Any) -> Step:
    return Step(
        ScheduledActivity(
            activity_id, name, VERSION, input=_flowy(*args, **kwargs), task_list=TASK_LIST
        ),
        expected,
    )


def demo_steps() -> list[Step]:
    """Hello world, a fan-out of four, a long job with progress, a failure, a cancellation."""
    return [
        _step("hello", "Hello", "completed", "swfbridge"),
        *(
            _step(f"thumb-{n}", "Thumbnail", "completed", f"photo-{n}.png", size=128)
            for n in range(1, 5)
        ),
        _step("transcode", "Transcode", "completed", "intro.mp4"),
        _step("charge", "ChargeCard", "failed", "order-42", 19.99),
        _step(CANCELED_ACTIVITY, "Backup", "canceled", "vol-1"),
    ]
