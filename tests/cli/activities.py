"""Activities for the CLI tests (imported by their worker subprocesses)."""

from __future__ import annotations

import time

from swfbridge import Activity, activity

TASK_LIST = "cli-tests"


@activity("1", task_list=TASK_LIST, start_to_close=60, schedule_to_start=120)
class Nap(Activity):
    def run(self, seconds: float) -> float:
        time.sleep(seconds)
        return seconds
