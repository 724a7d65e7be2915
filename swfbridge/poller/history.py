"""Which ``ActivityTaskScheduled`` event a polled task came from, read once per run.

A poll response names its run and its ``ActivityTaskStarted`` event, not the
scheduled event that holds the timeouts SWF applies to it (the decider's
per-task values, or the type's defaults filled in by SWF). Finding it means
reading the run's history, newest events first.

One read serves many tasks: everything a walk sees is kept per run (bounded,
short-lived, shared by the poll threads), so a decider that schedules 1,000
activities in one decision costs one or two history pages, not 1,000 walks.
A task whose scheduled event is newer than what was seen reads only the new
events. The proof obligations, and how each is met:

* A cached scheduled event is the task's own when the walk covered every event
  from it up to the task's started event (SWF allows one open activity per
  activity id, so no later schedule of that id can hide in between), or when
  the cache saw the very ``ActivityTaskStarted`` event of the task.
* Otherwise (the task started after the last walk) the cached event is trusted
  only while it is, as far as this process knows, still waiting to start: not
  seen started, closed or matched to another task, with the same type and the
  same input. A retry under the same activity id after a close therefore reads
  the history again, except in one case: an attempt closed and rescheduled
  with identical type and input between two walks, by events no walk of this
  process saw (docs/progress.rst states it).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swfbridge.aws.swf import SwfClient
from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError

# A small first page answers the common case cheaply (a task scheduled by the
# latest decision is among the newest events; on the local endpoint a 25-event
# page cost 0.6 ms more than a 5-event one); later pages are larger, so a
# fan-out costs few calls, but not SWF's largest (1,000), since every
# scheduled event carries its input (up to 32 KB) and a page is parsed whole.
FIRST_PAGE_SIZE = 10
PAGE_SIZE = 500

_CLOSE_EVENTS = {
    "ActivityTaskCompleted": "activityTaskCompletedEventAttributes",
    "ActivityTaskFailed": "activityTaskFailedEventAttributes",
    "ActivityTaskTimedOut": "activityTaskTimedOutEventAttributes",
    "ActivityTaskCanceled": "activityTaskCanceledEventAttributes",
}


@dataclass(frozen=True)
class HistoryCacheConfig:
    """Bounds of the per-run cache of scheduled events.

    Args:
        max_runs: Runs kept at once (least recently used dropped first).
        max_scheduled: Scheduled events kept over all runs; past it, the least
            recently used runs are dropped.
        idle_s: A run not looked at for this long is forgotten.
    """

    max_runs: int = 1000
    max_scheduled: int = 200_000
    idle_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_runs < 1 or self.max_scheduled < 1:
            raise ConfigurationError("HistoryCacheConfig: bounds must be positive")
        check_seconds("HistoryCacheConfig: idle_s", self.idle_s, allow_zero=False)


@dataclass(frozen=True)
class ScheduledActivity:
    """What the bridge keeps of one ``ActivityTaskScheduled`` event."""

    event_id: int
    activity_id: str
    activity_type: tuple[str, str]
    input_digest: tuple[int, int]
    start_to_close: str | None
    """The event's ``startToCloseTimeout`` text, as SWF sent it (None if absent)."""
    heartbeat: str | None
    """The event's ``heartbeatTimeout`` text, as SWF sent it (None if absent)."""


def _digest(text: str | None) -> tuple[int, int]:
    data = (text or "").encode()
    return (len(data), zlib.crc32(data))


@dataclass
class _Run:
    """What this process has seen of one run's history."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    # Every event from ``lo`` to ``hi`` has been seen (0, 0: none yet).
    lo: int = 0
    hi: int = 0
    scheduled: dict[int, ScheduledActivity] = field(default_factory=dict)
    by_activity: dict[str, list[int]] = field(default_factory=dict)
    started: dict[int, int] = field(default_factory=dict)  # scheduled id -> started id
    closed: set[int] = field(default_factory=set)
    matched: dict[int, int] = field(default_factory=dict)  # by this process
    used_at: float = 0.0

    def ingest(self, event: dict[str, Any]) -> None:
        kind = event.get("eventType")
        event_id = int(event["eventId"])
        if kind == "ActivityTaskScheduled":
            attrs = event["activityTaskScheduledEventAttributes"]
            activity_type = attrs["activityType"]
            record = ScheduledActivity(
                event_id=event_id,
                activity_id=str(attrs["activityId"]),
                activity_type=(str(activity_type["name"]), str(activity_type["version"])),
                input_digest=_digest(attrs.get("input")),
                start_to_close=_text(attrs.get("startToCloseTimeout")),
                heartbeat=_text(attrs.get("heartbeatTimeout")),
            )
            if event_id not in self.scheduled:
                self.scheduled[event_id] = record
                ids = self.by_activity.setdefault(record.activity_id, [])
                ids.append(event_id)
                ids.sort()
        elif kind == "ActivityTaskStarted":
            attrs = event["activityTaskStartedEventAttributes"]
            self.started[int(attrs["scheduledEventId"])] = event_id
        elif kind in _CLOSE_EVENTS:
            self.closed.add(int(event[_CLOSE_EVENTS[kind]]["scheduledEventId"]))

    def match(
        self,
        activity_id: str,
        started_id: int,
        activity_type: tuple[str, str],
        input_digest: tuple[int, int],
    ) -> ScheduledActivity | None:
        """The task's scheduled event if what was seen proves it (module docs), else None."""
        earlier = [i for i in self.by_activity.get(activity_id, ()) if i < started_id]
        if not earlier:
            return None
        record = self.scheduled[earlier[-1]]
        if self.started.get(record.event_id) == started_id or (
            self.lo <= record.event_id and started_id - 1 <= self.hi
        ):
            return record
        waiting = (
            record.event_id not in self.started
            and record.event_id not in self.closed
            and self.matched.get(record.event_id, started_id) == started_id
        )
        if (
            waiting
            and record.activity_type == activity_type
            and record.input_digest == input_digest
        ):
            return record
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class HistoryCache:
    """Finds each task's ``ActivityTaskScheduled`` event, sharing history reads.

    Thread-safe; one walk at a time per run (a second task of the same run
    waits for it and is then answered from what it read).

    Args:
        swf: The SWF client (its retries and back-off apply to every page).
        domain: The SWF domain.
        config: Cache bounds.
        clock: Monotonic seconds (tests).
    """

    def __init__(
        self,
        *,
        swf: SwfClient,
        domain: str,
        config: HistoryCacheConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._swf = swf
        self._domain = domain
        self.config = config or HistoryCacheConfig()
        self._clock = clock
        self._runs: OrderedDict[tuple[str, str], _Run] = OrderedDict()
        self._lock = threading.Lock()
        self._counts = {"history_pages": 0, "history_cache_hits": 0}

    @property
    def counts(self) -> dict[str, int]:
        """``history_pages`` read and ``history_cache_hits`` (tasks answered without a read)."""
        with self._lock:
            return dict(self._counts)

    @property
    def runs(self) -> int:
        """Runs currently cached."""
        with self._lock:
            return len(self._runs)

    def scheduled_for(self, response: dict[str, Any]) -> ScheduledActivity | None:
        """The scheduled event of the task in a poll response; None if the history lacks it.

        Raises:
            SwfError: the history could not be read (after the client's retries).
            KeyError, TypeError, ValueError: the response or the history is malformed.
        """
        execution = response["workflowExecution"]
        key = (str(execution["workflowId"]), str(execution["runId"]))
        activity_id = str(response["activityId"])
        started_id = int(response["startedEventId"])
        activity_type = response["activityType"]
        type_key = (str(activity_type["name"]), str(activity_type["version"]))
        digest = _digest(response.get("input"))
        run = self._run(key)
        with run.lock:
            record = run.match(activity_id, started_id, type_key, digest)
            if record is not None:
                self._count("history_cache_hits")
            else:
                self._walk(run, execution, activity_id, started_id)
                record = run.match(activity_id, started_id, type_key, digest)
            if record is not None:
                run.matched[record.event_id] = started_id
            run.used_at = self._clock()
        self._trim()
        return record

    def _run(self, key: tuple[str, str]) -> _Run:
        now = self._clock()
        with self._lock:
            run = self._runs.get(key)
            if run is not None and now - run.used_at > self.config.idle_s:
                del self._runs[key]
                run = None
            if run is None:
                run = self._runs[key] = _Run(used_at=now)
            self._runs.move_to_end(key)
            return run

    def _walk(
        self, run: _Run, execution: dict[str, Any], activity_id: str, started_id: int
    ) -> None:
        """Read newest-first until the task's scheduled event is known (or the start)."""
        token: str | None = None
        newest: int | None = None
        lowest: int | None = None
        while True:
            params: dict[str, Any] = {
                "domain": self._domain,
                "execution": {"workflowId": execution["workflowId"], "runId": execution["runId"]},
                "reverseOrder": True,
                "maximumPageSize": PAGE_SIZE if token else FIRST_PAGE_SIZE,
            }
            if token:
                params["nextPageToken"] = token
            answer = self._swf.call("get_workflow_execution_history", **params)
            self._count("history_pages")
            for event in answer.get("events") or []:
                event_id = int(event["eventId"])
                newest = event_id if newest is None else max(newest, event_id)
                lowest = event_id if lowest is None else min(lowest, event_id)
                if not run.lo <= event_id <= run.hi:
                    run.ingest(event)
            token = answer.get("nextPageToken") or None
            if newest is None or lowest is None:
                return  # an empty history: nothing to learn
            if run.hi and lowest <= run.hi + 1 and run.lo <= lowest:
                lowest = run.lo  # joined what earlier walks saw
            found = any(lowest <= i < started_id for i in run.by_activity.get(activity_id, ()))
            if found or not token or lowest <= 1:
                run.lo, run.hi = lowest, newest
                return

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _trim(self) -> None:
        now = self._clock()
        with self._lock:
            total = sum(len(run.scheduled) for run in self._runs.values())
            while self._runs and (
                len(self._runs) > self.config.max_runs
                or total > self.config.max_scheduled
                or now - next(iter(self._runs.values())).used_at > self.config.idle_s
            ):
                _, oldest = self._runs.popitem(last=False)
                total -= len(oldest.scheduled)
