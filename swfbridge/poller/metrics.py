"""Prometheus metrics for the poller: what it polls, dispatches, fails and how SWF answers.

Opt-in (``swfbridge poll --metrics-port N``): a loopback HTTP endpoint serves
the text exposition format at ``/metrics``. Nothing here touches the poll
loop: the poller's running totals are read at scrape time, SWF calls are
observed through :class:`~swfbridge.aws.swf.SwfClient`'s ``observer`` hook, and
the tasks the bridge fails are counted where they leave, at the respond call
(:class:`MeteredSwfClient`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from swfbridge.aws.retry import Backoff
from swfbridge.aws.swf import SwfClient, SwfError, Throttled
from swfbridge.prometheus import (
    CONTENT_TYPE,
    Counter,
    Histogram,
    MetricsServer,
    counter_lines,
    gauge_lines,
)
from swfbridge.wire.outcome import REASON_PREFIX

__all__ = ["CONTENT_TYPE", "Histogram", "MeteredSwfClient", "MetricsServer", "PollerMetrics"]

# SWF calls range from milliseconds (responds) to a minute (an empty long poll).
SWF_CALL_BUCKETS_S: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    75.0,
)

# The poller's running totals (Poller.counts) and the metric each one feeds.
_POLLER_COUNTERS: dict[str, tuple[str, str, float]] = {
    "polls": ("swfbridge_polls_total", "Long polls made (PollForActivityTask).", 1.0),
    "empty_polls": ("swfbridge_empty_polls_total", "Long polls that ended without a task.", 1.0),
    "dispatched": (
        "swfbridge_tasks_dispatched_total",
        "Tasks published to the Celery broker.",
        1.0,
    ),
    "poll_errors": (
        "swfbridge_poll_errors_total",
        "Polls that failed (SWF errors, unexpected errors).",
        1.0,
    ),
    "slot_waits": (
        "swfbridge_slot_waits_total",
        "Polls that had to wait for a free capacity slot.",
        1.0,
    ),
    "slot_wait_ms": (
        "swfbridge_slot_wait_seconds_total",
        "Time poll threads spent waiting for a capacity slot.",
        0.001,
    ),
    "readiness_checks": (
        "swfbridge_readiness_checks_total",
        "Broker and state-store checks made before a poll (none while recent "
        "publishes and slot reservations show both answering).",
        1.0,
    ),
    "broker_unavailable": (
        "swfbridge_broker_unavailable_total",
        "Checks before polling that found the broker down.",
        1.0,
    ),
    "state_unavailable": (
        "swfbridge_state_unavailable_total",
        "Checks that found the state store (slots, claims) down.",
        1.0,
    ),
    "keepalive_beats": (
        "swfbridge_keepalive_heartbeats_total",
        "Heartbeats sent for jobs still queued in the broker.",
        1.0,
    ),
    "keepalive_closed": (
        "swfbridge_keepalive_closed_total",
        "Queued jobs whose task SWF closed meanwhile.",
        1.0,
    ),
    "jobs_republished": (
        "swfbridge_jobs_republished_total",
        "Queued jobs the broker lost before any worker took them, published again.",
        1.0,
    ),
    "history_pages": (
        "swfbridge_history_pages_total",
        "History pages read to find tasks' ActivityTaskScheduled events.",
        1.0,
    ),
    "history_cache_hits": (
        "swfbridge_history_cache_hits_total",
        "Tasks whose scheduled event was known without a history read.",
        1.0,
    ),
    "timeouts_fallback": (
        "swfbridge_timeouts_fallback_total",
        "Tasks whose history could not be used: timeouts from the "
        "registration (a decider's per-task override is not seen).",
        1.0,
    ),
    "abandoned_at_shutdown": (
        "swfbridge_abandoned_at_shutdown_total",
        "Polled tasks failed because the poller was stopping.",
        1.0,
    ),
}


class PollerMetrics:
    """The poller's metrics.

    Use :meth:`observe_swf_call` as the ``SwfClient`` observer, build the
    client as a :class:`MeteredSwfClient`, and :meth:`watch` the poller.
    """

    def __init__(self) -> None:
        self.swf_call_seconds = Histogram(
            "swfbridge_swf_call_seconds",
            "Duration of SWF calls (each attempt), by operation.",
            ("operation",),
            buckets=SWF_CALL_BUCKETS_S,
        )
        self.swf_call_errors = Counter(
            "swfbridge_swf_call_errors_total",
            "SWF calls that failed, by operation and error type.",
            ("operation", "error"),
        )
        self.swf_throttles = Counter(
            "swfbridge_swf_throttles_total", "SWF calls throttled, by operation.", ("operation",)
        )
        self.failed_by_bridge = Counter(
            "swfbridge_tasks_failed_by_bridge_total",
            "Tasks the bridge failed itself (reason 'swfbridge: ...'), by cause.",
            ("cause",),
        )
        self._pollers: list[Any] = []

    def watch(self, poller: Any) -> None:
        """Read ``poller.counts`` (and ``poller.in_flight`` if it has one) at each scrape."""
        self._pollers.append(poller)

    def observe_swf_call(self, operation: str, seconds: float, error: SwfError | None) -> None:
        """The ``SwfClient`` observer: latency, errors by type, throttles."""
        self.swf_call_seconds.observe(seconds, operation)
        if error is not None:
            self.swf_call_errors.inc(operation, type(error).__name__)
            if isinstance(error, Throttled):
                self.swf_throttles.inc(operation)

    def observe_bridge_failure(self, cause: str) -> None:
        self.failed_by_bridge.inc(cause)

    def render(self) -> str:
        """All metrics in Prometheus' text exposition format."""
        totals: dict[str, float] = {}
        in_flight: float | None = None
        for poller in self._pollers:
            for key, value in poller.counts.items():
                totals[key] = totals.get(key, 0) + value
            current = getattr(poller, "in_flight", None)
            if callable(current):
                current = current()
            # The task list's total across all its pollers (from the state store),
            # so one value, not a sum over the pollers of this process.
            if isinstance(current, (int, float)) and not isinstance(current, bool):
                in_flight = max(in_flight or 0, current)
        lines: list[str] = []
        for key, (name, help_text, scale) in _POLLER_COUNTERS.items():
            lines += counter_lines(name, help_text, totals.get(key, 0) * scale)
        if in_flight is not None:
            lines += gauge_lines(
                "swfbridge_jobs_in_flight", "Jobs dispatched and not yet finished.", in_flight
            )
        for family in (
            self.failed_by_bridge,
            self.swf_call_errors,
            self.swf_throttles,
            self.swf_call_seconds,
        ):
            lines += family.render()
        return "\n".join(lines) + "\n"


class MeteredSwfClient(SwfClient):
    """An :class:`SwfClient` that also counts the tasks the bridge fails, by cause.

    Args:
        metrics: Where to count.
        **kwargs: As for :class:`SwfClient` (the observer is set to ``metrics``).
    """

    def __init__(self, *, metrics: PollerMetrics, **kwargs: Any) -> None:
        super().__init__(observer=metrics.observe_swf_call, **kwargs)
        self._metrics = metrics

    def call(
        self,
        operation: str,
        *,
        retry: bool = True,
        stop: threading.Event | None = None,
        backoff: Backoff | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        result = super().call(operation, retry=retry, stop=stop, backoff=backoff, **params)
        if operation == "respond_activity_task_failed" and str(params.get("reason", "")).startswith(
            REASON_PREFIX
        ):
            self._metrics.observe_bridge_failure(_cause(params.get("details")))
        return result


def _cause(details: Any) -> str:
    try:
        cause = json.loads(details).get("cause")
    except (TypeError, ValueError, AttributeError):
        return "unknown"
    return cause if isinstance(cause, str) and cause else "unknown"
