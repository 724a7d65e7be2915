"""Which timeouts apply to a polled task.

A poll response does not carry the task's timeouts. By default swfbridge
takes them from the activity's own registration when this process knows it,
else from the type's registered defaults (``DescribeActivityType``, cached):
no extra SWF call per task.

A decider may override the timeouts per task. With ``from_history=True``
the resolver reads the task's ``ActivityTaskScheduled`` event instead (one
``GetWorkflowExecutionHistory`` walk per task, newest events first), which
holds the timeouts SWF actually applies; if that fails it falls back to the
defaults. Without it, a decider that overrides timeouts should keep them at or
above the type's defaults: the job's deadline and heartbeat pace come from them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from swfbridge.activities.options import parse_timeout
from swfbridge.activities.registry import ActivityRegistry
from swfbridge.aws.swf import SwfClient, SwfError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskTimeouts:
    """The timeouts that bound an attempt once it is polled (seconds; None: no limit)."""

    start_to_close_s: float | None = None
    heartbeat_s: float | None = None


UNKNOWN = TaskTimeouts()


class TimeoutResolver:
    """Resolves and caches the timeouts of activity types.

    Args:
        registry: Locally known activity types (consulted first).
        swf: Client for ``DescribeActivityType`` and history reads.
        domain: The SWF domain.
        from_history: Read each task's timeouts from its ``ActivityTaskScheduled``
            event (see the module docs); costs one history read per task.
    """

    def __init__(self, *, registry: ActivityRegistry, swf: SwfClient, domain: str,
                 from_history: bool = False) -> None:
        self._registry = registry
        self._swf = swf
        self._domain = domain
        self._from_history = from_history
        self._cache: dict[tuple[str, str], TaskTimeouts] = {}
        self._lock = threading.Lock()

    def for_task(self, response: dict[str, Any]) -> TaskTimeouts:
        """The timeouts of the task in a poll response.

        Raises:
            KeyError, TypeError: the response lacks its activity type.
        """
        activity_type = response["activityType"]
        if self._from_history:
            scheduled = self._scheduled_timeouts(response)
            if scheduled is not None:
                return scheduled
        return self.resolve(activity_type["name"], activity_type["version"])

    def _scheduled_timeouts(self, response: dict[str, Any]) -> TaskTimeouts | None:
        """Timeouts from the task's ActivityTaskScheduled event, or None if not found."""
        try:
            started_id = int(response["startedEventId"])
            execution = response["workflowExecution"]
            scheduled_id: int | None = None
            page: str | None = None
            while True:
                params: dict[str, Any] = {"domain": self._domain, "execution": execution,
                                          "reverseOrder": True}
                if page:
                    params["nextPageToken"] = page
                answer = self._swf.call("get_workflow_execution_history", **params)
                for event in answer.get("events", []):
                    event_id = int(event.get("eventId", 0))
                    if event_id == started_id:
                        attrs = event.get("activityTaskStartedEventAttributes", {})
                        scheduled_id = int(attrs["scheduledEventId"])
                    elif scheduled_id is not None and event_id == scheduled_id:
                        attrs = event.get("activityTaskScheduledEventAttributes", {})
                        return TaskTimeouts(
                            start_to_close_s=parse_timeout(attrs.get("startToCloseTimeout")),
                            heartbeat_s=parse_timeout(attrs.get("heartbeatTimeout")),
                        )
                page = answer.get("nextPageToken")
                if not page:
                    break
        except SwfError as exc:
            log.warning("cannot read the task's scheduled event (%s): using the type's "
                        "timeouts", exc.code)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("unexpected history shape (%r): using the type's timeouts", exc)
        return None

    def resolve(self, name: str, version: str) -> TaskTimeouts:
        """The timeouts of type ``(name, version)``: local registration, else SWF's defaults."""
        entry = self._registry.get(name, version)
        if entry is not None:
            return TaskTimeouts(entry.options.start_to_close_s, entry.options.heartbeat_s)
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
            log.warning("cannot describe activity type %s@%s (%s): no deadline on its jobs",
                        name, version, exc.code)
            return UNKNOWN
        config = answer.get("configuration", {})
        return TaskTimeouts(
            start_to_close_s=parse_timeout(config.get("defaultTaskStartToCloseTimeout")),
            heartbeat_s=parse_timeout(config.get("defaultTaskHeartbeatTimeout")),
        )
