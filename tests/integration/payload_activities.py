"""Activities for the S3 claim-check integration tests (tests/integration/test_payloads.py)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from swfbridge import SIMPLEFLOW, Activity, ActivityFailed, activity

TASK_LIST = "it-payloads"
TIMEOUTS: dict[str, Any] = {"start_to_close": 60, "schedule_to_start": 120}


def report_ids(count: int) -> dict[str, Any]:
    """A large, structured result: what a real activity returns (about 14 bytes per id)."""
    return {"count": count, "ids": [f"doc-{i:08d}" for i in range(count)], "note": "é✓"}


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class ReportIds(Activity):
    def run(self, count: int) -> dict[str, Any]:
        return report_ids(count)


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class Blob(Activity):
    def run(self, size: int) -> str:
        return "x" * size


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class Digest(Activity):
    """Says what input ``run`` received; scheduled the simpleflow way."""

    wire_format = SIMPLEFLOW

    def run(self, data: str) -> dict[str, Any]:
        return {"length": len(data), "sha256": hashlib.sha256(data.encode()).hexdigest()}


@activity("1", task_list=TASK_LIST, **TIMEOUTS)
class FailWithBigDetails(Activity):
    def run(self, size: int) -> None:
        raise ActivityFailed("too many bad rows", details={"bad_rows": "r" * size})


@activity("1", task_list=TASK_LIST, heartbeat=2, **TIMEOUTS)
class BeatBigThenStall(Activity):
    """Sends large progress once, then stalls until SWF times it out."""

    def run(self, size: int, stall_s: float) -> None:
        self.heartbeat({"progress": "p" * size})
        time.sleep(stall_s)
