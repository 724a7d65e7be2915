"""Which timeouts bound a polled task: the ones SWF applies to it.

A poll response does not carry the task's timeouts. SWF applies those of the
task's ``ActivityTaskScheduled`` event: the decider's per-task values, or the
type's registered defaults where the decision left them out. Deciders set them
per task all the time (simpleflow on every schedule, over placeholder
defaults), so by default the resolver reads that event
(:mod:`swfbridge.poller.history`, one read shared by every task of a run).

The registration (the activity's own, when this process knows it, else the
type's defaults from ``DescribeActivityType``) is the fallback when the
history cannot be read, with a WARNING naming the task; and the whole source
under ``TimeoutPolicy.REGISTRATION``, for fleets whose deciders never override.

A timeout of ``"0"``, an absent value or one that does not parse is not a
deadline of zero: it is "no limit the bridge knows" (see :func:`bridge_timeout`).
"""

from __future__ import annotations

import enum
import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

from swfbridge.activities.registry import ActivityRegistry
from swfbridge.aws.swf import SwfClient, SwfError
from swfbridge.poller.history import HistoryCache, HistoryCacheConfig

log = logging.getLogger(__name__)


class TimeoutPolicy(str, enum.Enum):
    """Where the poller takes each task's timeouts from."""

    HISTORY = "history"
    """The task's ActivityTaskScheduled event (the default): what SWF applies."""
    REGISTRATION = "registration"
    """The type's registration only: right only if no decider overrides timeouts."""


class TimeoutSource(str, enum.Enum):
    """Where one task's timeouts came from (logged with the job, shown by status)."""

    HISTORY = "history"
    REGISTRATION = "registration"
    TYPE_DEFAULTS = "type-defaults"
    UNKNOWN = "unknown"


def bridge_timeout(text: Any) -> float | None:
    """An SWF timeout as the bridge uses it: seconds, or None for no known limit.

    ``"NONE"``, absent, ``"0"`` (a placeholder some deciders register, e.g.
    simpleflow) and anything that is not a positive finite number all mean
    None: the bridge then sets no deadline of its own and SWF stays the judge.
    A deadline of zero would expire every job the moment it is published.
    """
    if text is None:
        return None
    try:
        seconds = float(str(text).strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return seconds


@dataclass(frozen=True)
class TaskTimeouts:
    """The timeouts that bound an attempt once it is polled (seconds; None: no limit)."""

    start_to_close_s: float | None = None
    heartbeat_s: float | None = None
    source: TimeoutSource = TimeoutSource.UNKNOWN


UNKNOWN = TaskTimeouts()


class TimeoutResolver:
    """Resolves each polled task's timeouts; thread-safe, shared by the poll threads.

    Args:
        registry: Locally known activity types (the first fallback).
        swf: Client for history reads and ``DescribeActivityType``.
        domain: The SWF domain.
        policy: Where timeouts come from (default: the task's history).
        history: Bounds of the per-run cache of scheduled events.
    """

    def __init__(
        self,
        *,
        registry: ActivityRegistry,
        swf: SwfClient,
        domain: str,
        policy: TimeoutPolicy = TimeoutPolicy.HISTORY,
        history: HistoryCacheConfig | None = None,
    ) -> None:
        self._registry = registry
        self._swf = swf
        self._domain = domain
        self.policy = TimeoutPolicy(policy)
        self._history = HistoryCache(swf=swf, domain=domain, config=history)
        self._cache: dict[tuple[str, str], TaskTimeouts] = {}
        self._lock = threading.Lock()
        self._fallbacks = 0

    @property
    def counts(self) -> dict[str, int]:
        """``history_pages``, ``history_cache_hits`` and ``timeouts_fallback``
        (tasks whose history could not be used: registration instead)."""
        counts = self._history.counts
        with self._lock:
            counts["timeouts_fallback"] = self._fallbacks
        return counts

    def for_task(self, response: dict[str, Any]) -> TaskTimeouts:
        """The timeouts of the task in a poll response.

        Raises:
            KeyError, TypeError: the response lacks its activity type.
        """
        activity_type = response["activityType"]
        name, version = activity_type["name"], activity_type["version"]
        if self.policy is TimeoutPolicy.HISTORY:
            found = self._from_history(response)
            if isinstance(found, TaskTimeouts):
                return found
            with self._lock:
                self._fallbacks += 1
            log.warning(
                "timeouts of workflow=%s activity=%s type=%s@%s from its registration: %s "
                "(a per-task override by the decider is not seen)",
                _get(response, "workflowExecution", "workflowId"),
                response.get("activityId"),
                name,
                version,
                found,
            )
        return self.resolve(name, version)

    def _from_history(self, response: dict[str, Any]) -> TaskTimeouts | str:
        """The scheduled event's timeouts, or why they could not be had."""
        try:
            scheduled = self._history.scheduled_for(response)
        except SwfError as exc:
            return f"cannot read the run's history ({exc.code})"
        except (KeyError, TypeError, ValueError) as exc:
            return f"unexpected history or poll response shape ({type(exc).__name__}: {exc})"
        if scheduled is None:
            return "its ActivityTaskScheduled event is not in the run's history"
        return TaskTimeouts(
            start_to_close_s=bridge_timeout(scheduled.start_to_close),
            heartbeat_s=bridge_timeout(scheduled.heartbeat),
            source=TimeoutSource.HISTORY,
        )

    def resolve(self, name: str, version: str) -> TaskTimeouts:
        """The timeouts of type ``(name, version)``: local registration, else SWF's defaults."""
        entry = self._registry.get(name, version)
        if entry is not None:
            return TaskTimeouts(
                entry.options.start_to_close_s,
                entry.options.heartbeat_s,
                TimeoutSource.REGISTRATION,
            )
        key = (name, version)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        timeouts = self._describe(name, version)
        with self._lock:
            self._cache[key] = timeouts
        return timeouts

    def _describe(self, name: str, version: str) -> TaskTimeouts:
        try:
            answer = self._swf.call(
                "describe_activity_type",
                domain=self._domain,
                activityType={"name": name, "version": version},
            )
        except SwfError as exc:
            log.warning(
                "cannot describe activity type %s@%s (%s): no deadline on its jobs",
                name,
                version,
                exc.code,
            )
            return UNKNOWN
        config = answer.get("configuration", {})
        return TaskTimeouts(
            start_to_close_s=bridge_timeout(config.get("defaultTaskStartToCloseTimeout")),
            heartbeat_s=bridge_timeout(config.get("defaultTaskHeartbeatTimeout")),
            source=TimeoutSource.TYPE_DEFAULTS,
        )


def _get(data: dict[str, Any], *keys: str) -> Any:
    value: Any = data
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value
