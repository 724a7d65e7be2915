"""Which timeouts apply to a polled task.

A poll response does not carry the task's timeouts. swfbridge takes them from
the activity's own registration when this process knows it, else from the
type's registered defaults (``DescribeActivityType``, cached). A decider that
overrides the timeouts per task should keep them at or above the defaults:
the job's Celery deadline is derived from them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from swfbridge.options import parse_timeout
from swfbridge.registry import ActivityRegistry
from swfbridge.swf import SwfClient, SwfError

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
        swf: Client for ``DescribeActivityType``.
        domain: The SWF domain.
    """

    def __init__(self, *, registry: ActivityRegistry, swf: SwfClient, domain: str) -> None:
        self._registry = registry
        self._swf = swf
        self._domain = domain
        self._cache: dict[tuple[str, str], TaskTimeouts] = {}
        self._lock = threading.Lock()

    def resolve(self, name: str, version: str) -> TaskTimeouts:
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
