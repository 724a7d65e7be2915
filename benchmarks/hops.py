"""Where the bridge's latency goes: per-hop times from the processes' INFO logs.

For each activity of one workflow execution, lines in the poller's and the
worker's logs (millisecond timestamps, same machine clock) and the SWF history
give: ``started`` (SWF, poll answered) → ``received`` (Celery main process)
→ ``running`` (pool child, before the activity) → ``closed`` (SWF, respond
processed). The poller logs "dispatched" after ``send_task`` returns, which
can be after the worker has the message, so it is reported on its own.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

from benchmarks.scheduler import ActivityTiming

_STAMP = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"
# The poller's module logger (swfbridge.poller.loop since the package layout).
_DISPATCHED = re.compile(
    _STAMP + r" INFO swfbridge\.poller[.\w]*: dispatched: workflow=(\S+) "
    r"activity=(\S+) .* attempt=(\S+)"
)
_RECEIVED = re.compile(
    r"\[" + _STAMP + r": INFO/MainProcess\] Task swfbridge\.run_activity"
    r"\[(\S+)\] received"
)
_RUNNING = re.compile(
    r"\[" + _STAMP + r": INFO/ForkPoolWorker-\d+\] running: workflow=(\S+) "
    r"activity=(\S+) "
)


def _epoch(stamp: str) -> float:
    whole, millis = stamp.split(",")
    return time.mktime(time.strptime(whole, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000


def breakdown(
    poller_log: Path, worker_log: Path, workflow_id: str, timings: dict[str, ActivityTiming]
) -> dict[str, float]:
    """Median milliseconds spent in each hop, over the activities found in the logs."""
    dispatched: dict[str, tuple[float, str]] = {}
    for match in _DISPATCHED.finditer(poller_log.read_text(errors="replace")):
        if match.group(2) == workflow_id:
            dispatched[match.group(3)] = (_epoch(match.group(1)), match.group(4))
    worker_text = worker_log.read_text(errors="replace")
    received = {m.group(2): _epoch(m.group(1)) for m in _RECEIVED.finditer(worker_text)}
    running = {
        m.group(3): _epoch(m.group(1))
        for m in _RUNNING.finditer(worker_text)
        if m.group(2) == workflow_id
    }
    hops: dict[str, list[float]] = {
        "poll answered → Celery received": [],
        "received → pool child runs": [],
        "child runs → SWF closed": [],
        "(poll answered → poller logged its publish)": [],
    }
    for activity_id, timing in timings.items():
        if activity_id not in dispatched or activity_id not in running:
            continue
        at_dispatch, attempt = dispatched[activity_id]
        if attempt not in received or timing.started is None or timing.closed is None:
            continue
        points = [timing.started, received[attempt], running[activity_id], timing.closed]
        for name, start, end in zip(hops, points, points[1:], strict=False):
            hops[name].append(1000 * (end - start))
        hops["(poll answered → poller logged its publish)"].append(
            1000 * (at_dispatch - timing.started)
        )
    return {name: statistics.median(values) for name, values in hops.items() if values}
