"""What the soak schedules: a seeded mix of activities, split into workflows.

Pure logic (no I/O), so the mix is the same for a given seed and size.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from swfbridge.testing import ScheduledActivity
from tests.soak.activities import VERSION


@dataclass(frozen=True)
class Kind:
    """One kind of activity in the mix.

    ``seconds`` is the run time range; ``heartbeat_s`` the per-task heartbeat
    timeout (None: none); ``start_to_close_s`` the per-task start-to-close.
    """

    name: str
    activity_type: str
    weight: float
    seconds: tuple[float, float]
    heartbeat_s: int | None
    start_to_close_s: int
    expected: str  # completed, failed or canceled


# Heartbeat timeouts are short for SWF (real ones are tens of seconds) but not
# shorter than 5 s: a heartbeat is paced at 0.8 x the timeout, and on this
# 2-core machine a fresh pool process needs ~1.5 s before its first call, so 2 s
# timeouts time out under throttling whatever the bridge does.
KINDS: tuple[Kind, ...] = (
    Kind("quick", "SoakQuick", 0.47, (0.02, 0.4), None, 15, "completed"),
    Kind("beat", "SoakBeat", 0.20, (0.3, 1.5), 5, 20, "completed"),
    Kind("auto-beat", "SoakAutoBeat", 0.10, (0.3, 1.5), 5, 20, "completed"),
    Kind("long", "SoakBeat", 0.03, (3.0, 6.0), 10, 40, "completed"),
    Kind("fail", "SoakFail", 0.12, (0.02, 0.3), None, 15, "failed"),
    # Runs until canceled; the soak asks its decider to cancel it soon after it starts.
    Kind("cancel", "SoakCancellable", 0.08, (30.0, 30.0), 5, 60, "canceled"),
)
KINDS_BY_NAME = {k.name: k for k in KINDS}


@dataclass(frozen=True)
class PlannedActivity:
    """One activity of the soak; ``key`` is unique across the whole soak."""

    key: str
    kind: str
    seconds: float

    @property
    def spec(self) -> Kind:
        return KINDS_BY_NAME[self.kind]

    def scheduled(self) -> ScheduledActivity:
        spec = self.spec
        return ScheduledActivity(
            activity_id=self.key,
            name=spec.activity_type,
            version=VERSION,
            input=json.dumps([[self.key, self.seconds], {}]),
            heartbeat_timeout=str(spec.heartbeat_s) if spec.heartbeat_s else "NONE",
            start_to_close=str(spec.start_to_close_s),
            schedule_to_start="NONE",
            schedule_to_close="NONE",
        )


def plan(total: int, *, per_workflow: int, seed: int) -> list[list[PlannedActivity]]:
    """``total`` activities of the mix, in workflows of ``per_workflow``."""
    rng = random.Random(seed)
    weights = [k.weight for k in KINDS]
    activities = []
    for n in range(total):
        kind = rng.choices(KINDS, weights)[0]
        low, high = kind.seconds
        activities.append(PlannedActivity(f"a{n:05d}", kind.name, round(rng.uniform(low, high), 3)))
    return [activities[i : i + per_workflow] for i in range(0, total, per_workflow)]
