"""The Celery job that carries one SWF activity attempt from poller to worker.

The message is plain JSON (``to_message``/``from_message``); the poller builds
it from a poll response and the worker validates it before anything else, so a
malformed message can never crash a worker.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, fields
from typing import Any

from swfbridge.checks import is_finite_number
from swfbridge.errors import SwfBridgeError

TASK_NAME = "swfbridge.run_activity"
RELAY_RESULT_TASK = "swfbridge.relay_result"
"""The task that reports a mapped Celery task's return value (see swfbridge.worker.relays)."""
RELAY_FAILURE_TASK = "swfbridge.relay_failure"
"""The errback that reports a mapped Celery task's failure."""
"""The fixed Celery task name the poller sends and workers register."""

MESSAGE_VERSION = 1


MAX_DURATION_S = 366 * 24 * 3600.0
"""Longest time-out SWF accepts (a year), with a day to spare: no job lasts longer."""

TIMEOUT_SOURCES = frozenset({"history", "registration", "type-defaults", "unknown"})
"""Values of :attr:`ActivityJob.timeouts_source` (see swfbridge.poller.timeouts)."""

LATEST_POLL_TIME = float(2**32)
"""Latest plausible ``polled_at`` (epoch seconds, year 2106)."""


class MalformedJob(SwfBridgeError, ValueError):
    """The job message is not a valid swfbridge job."""


def _check_times(
    polled_at: float, deadline: float | None, heartbeat_timeout_s: float | None
) -> None:
    # Keeps every derived wait (claim PX, timers) within what Redis and threading accept.
    if not 0 <= polled_at < LATEST_POLL_TIME:
        raise MalformedJob("job field 'polled_at' is not a plausible epoch time")
    if deadline is not None and not 0 <= deadline - polled_at <= MAX_DURATION_S:
        raise MalformedJob(
            "job field 'deadline' must be after 'polled_at' and within "
            "SWF's longest time-out (a year)"
        )
    if heartbeat_timeout_s is not None and not 0 < heartbeat_timeout_s <= MAX_DURATION_S:
        raise MalformedJob(
            "job field 'heartbeat_timeout_s' must be positive and within "
            "SWF's longest time-out (a year)"
        )


@dataclass(frozen=True)
class ActivityJob:
    """One SWF activity attempt, as handed from the poller to a worker.

    Times are wall-clock epoch seconds, comparable between machines.
    """

    task_token: str
    domain: str
    task_list: str
    activity_id: str
    activity_name: str
    activity_version: str
    workflow_id: str
    run_id: str
    started_event_id: int
    input: str | None
    polled_at: float
    deadline: float | None = None
    heartbeat_timeout_s: float | None = None
    timeouts_source: str = "unknown"
    """Where the poller took the timeouts from (``history``, ``registration``,
    ``type-defaults``, ``unknown``); for logs and ``swfbridge status`` only."""

    @functools.cached_property  # asked for on every log line and Redis call of the job
    def attempt_id(self) -> str:
        """A stable id for this attempt: the Celery task id and the claim key."""
        digest = hashlib.sha256(
            "\0".join(
                (
                    self.domain,
                    self.workflow_id,
                    self.run_id,
                    self.activity_id,
                    str(self.started_event_id),
                )
            ).encode()
        ).hexdigest()
        return f"swf-{digest[:32]}"

    @property
    def type_label(self) -> str:
        return f"{self.activity_name}@{self.activity_version}"

    def log_context(self) -> str:
        """Ids for every log line about this task (never the token or input)."""
        return (
            f"workflow={self.workflow_id} activity={self.activity_id} "
            f"type={self.type_label} attempt={self.attempt_id} "
            f"timeouts={self.timeouts_source}"
        )

    def to_message(self) -> dict[str, Any]:
        # Every field is a plain value: no deep copy (dataclasses.asdict) needed.
        message: dict[str, Any] = {"v": MESSAGE_VERSION}
        for name in _MESSAGE_FIELDS:
            message[name] = getattr(self, name)
        # The token last: any print of a message prefix shows ids before it.
        message["task_token"] = self.task_token
        return message

    @classmethod
    def from_message(cls, data: Any) -> ActivityJob:
        """Validate and decode a job message.

        Raises:
            MalformedJob: with a message saying what is wrong.
        """
        if not isinstance(data, dict):
            raise MalformedJob(f"job must be a JSON object, got {type(data).__name__}")
        if data.get("v") != MESSAGE_VERSION:
            raise MalformedJob(f"unsupported job message version {data.get('v')!r}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                if f.name in ("deadline", "heartbeat_timeout_s"):
                    values[f.name] = None
                    continue
                if f.name == "timeouts_source":  # jobs from pollers before it existed
                    values[f.name] = "unknown"
                    continue
                raise MalformedJob(f"job is missing {f.name!r}")
            values[f.name] = data[f.name]
        for name in (
            "task_token",
            "domain",
            "task_list",
            "activity_id",
            "activity_name",
            "activity_version",
            "workflow_id",
            "run_id",
        ):
            if not isinstance(values[name], str) or not values[name]:
                raise MalformedJob(f"job field {name!r} must be a non-empty string")
        source = values["timeouts_source"]
        if not isinstance(source, str) or source not in TIMEOUT_SOURCES:
            # Only ever logged; a value from a newer poller must not refuse the job.
            values["timeouts_source"] = "unknown"
        if values["input"] is not None and not isinstance(values["input"], str):
            raise MalformedJob("job field 'input' must be a string or null")
        if isinstance(values["started_event_id"], bool) or not isinstance(
            values["started_event_id"], int
        ):
            raise MalformedJob("job field 'started_event_id' must be an integer")
        for name in ("polled_at", "deadline", "heartbeat_timeout_s"):
            value = values[name]
            if value is None and name != "polled_at":
                continue
            if not is_finite_number(value):
                raise MalformedJob(f"job field {name!r} must be a number")
        _check_times(values["polled_at"], values["deadline"], values["heartbeat_timeout_s"])
        return cls(**values)

    @classmethod
    def from_poll(
        cls,
        response: dict[str, Any],
        *,
        domain: str,
        task_list: str,
        polled_at: float,
        start_to_close_s: float | None,
        heartbeat_s: float | None,
        timeouts_source: str = "unknown",
    ) -> ActivityJob:
        """Build the job for a non-empty ``PollForActivityTask`` response.

        Raises:
            MalformedJob: the response lacks a field the bridge needs.
        """
        try:
            execution = response["workflowExecution"]
            activity_type = response["activityType"]
            return cls(
                task_token=response["taskToken"],
                domain=domain,
                task_list=task_list,
                activity_id=response["activityId"],
                activity_name=activity_type["name"],
                activity_version=activity_type["version"],
                workflow_id=execution["workflowId"],
                run_id=execution["runId"],
                started_event_id=int(response["startedEventId"]),
                input=response.get("input"),
                polled_at=polled_at,
                deadline=None if start_to_close_s is None else polled_at + start_to_close_s,
                heartbeat_timeout_s=heartbeat_s,
                timeouts_source=timeouts_source,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedJob(f"poll response lacks {exc}") from exc


def token_hint(token: str) -> str:
    """A loggable stand-in for a task token: a short hash, never the token."""
    return "tok-" + hashlib.sha256(token.encode()).hexdigest()[:12]


_MESSAGE_FIELDS = tuple(f.name for f in fields(ActivityJob) if f.name != "task_token")
