"""What an activity attempt ended with, and the SWF call that reports it.

Pure functions, no I/O: the worker turns whatever happened into an
:class:`Outcome`, and :func:`response_for` turns that into one SWF call whose
fields always fit SWF's limits.
"""

from __future__ import annotations

import enum
import json
import traceback
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from swfbridge.errors import ActivityCancelled, ActivityFailed
from swfbridge.wire.limits import MAX_DETAILS, MAX_REASON, MAX_RESULT, TRUNCATION_MARKER, truncate


class BridgeCause(str, enum.Enum):
    """Why the bridge itself failed a task (the ``cause`` key of the details)."""

    UNKNOWN_ACTIVITY_TYPE = "unknown_activity_type"
    INPUT_UNDECODABLE = "input_undecodable"
    INPUT_SIGNATURE_MISMATCH = "input_signature_mismatch"
    RESULT_NOT_SERIALIZABLE = "result_not_serializable"
    RESULT_TOO_LARGE = "result_too_large"
    INPUT_REFERENCE_REJECTED = "input_reference_rejected"
    PAYLOAD_STORE_FAILED = "payload_store_failed"
    ENQUEUE_FAILED = "enqueue_failed"
    MALFORMED_JOB = "malformed_job"
    POLLER_SHUTDOWN = "poller_shutdown"
    DEADLINE_PASSED = "deadline_passed"
    WORKER_LOST = "worker_lost"
    INTERNAL_ERROR = "internal_error"
    UNKNOWN_CELERY_TASK = "unknown_celery_task"
    FAILURE_NOT_RELAYED = "failure_not_relayed"
    IMPORT_PATH_NOT_ALLOWED = "import_path_not_allowed"
    IMPORT_FAILED = "import_failed"


REASON_PREFIX = "swfbridge: "
MAX_MESSAGE_IN_DETAILS = 8_192


@dataclass(frozen=True)
class Completed:
    result: str | None


@dataclass(frozen=True)
class Failed:
    reason: str
    details: str | None = None
    cause: BridgeCause | None = field(default=None, compare=False)
    """Why the bridge failed the task itself, as data (None: the activity failed it)."""


@dataclass(frozen=True)
class Canceled:
    details: str | None = None


@dataclass(frozen=True)
class Abandoned:
    """Nothing is to be sent: SWF has already closed the task."""

    why: str


Outcome = Completed | Failed | Canceled | Abandoned


@dataclass(frozen=True)
class SwfResponse:
    """One SWF call: the operation name (boto3 method) and its arguments."""

    operation: str
    params: dict[str, Any]


def response_for(outcome: Outcome, task_token: str) -> SwfResponse | None:
    """The SWF call reporting ``outcome``, with every field within SWF's limits."""
    if isinstance(outcome, Completed):
        params: dict[str, Any] = {"taskToken": task_token}
        if outcome.result is not None:
            params["result"] = truncate(outcome.result, MAX_RESULT)
        return SwfResponse("respond_activity_task_completed", params)
    if isinstance(outcome, Failed):
        params = {"taskToken": task_token, "reason": truncate(outcome.reason, MAX_REASON)}
        if outcome.details is not None:
            params["details"] = truncate(outcome.details, MAX_DETAILS)
        return SwfResponse("respond_activity_task_failed", params)
    if isinstance(outcome, Canceled):
        params = {"taskToken": task_token}
        if outcome.details is not None:
            params["details"] = truncate(outcome.details, MAX_DETAILS)
        return SwfResponse("respond_activity_task_canceled", params)
    return None


def outcome_label(outcome: Outcome) -> str:
    """A short, stable label for metrics and logs: ``completed``, ``failed``,
    ``failed_by_bridge``, ``canceled`` or ``abandoned``."""
    if isinstance(outcome, Completed):
        return "completed"
    if isinstance(outcome, Canceled):
        return "canceled"
    if isinstance(outcome, Abandoned):
        return "abandoned"
    return "failed_by_bridge" if outcome.reason.startswith(REASON_PREFIX) else "failed"


def failure_cause(outcome: Outcome) -> BridgeCause | None:
    """The bridge cause of a failure made by :func:`bridge_failure` (else None)."""
    return outcome.cause if isinstance(outcome, Failed) else None


def bridge_failure(cause: BridgeCause, message: str, **extra: Any) -> Failed:
    """A failure caused by the bridge or the task's data, not the activity's code.

    The reason starts with ``"swfbridge: "``; the details are JSON with the cause.
    """
    details = {"error": "SwfBridgeError", "cause": cause.value, "message": message, **extra}
    return Failed(reason=REASON_PREFIX + message, details=_json_details(details), cause=cause)


def failure_from_exception(exc: BaseException, tb: TracebackType | None = None) -> Failed:
    """The failure reported for an exception raised by ``Activity.run``.

    :class:`ActivityFailed` gives its own reason and details. Any other
    exception gives ``"<Type>: <message>"`` and JSON details in simpleflow's
    layout: ``{"error", "error_type", "message", "traceback"}``.
    """
    if isinstance(exc, ActivityFailed):
        return Failed(reason=str(exc.reason), details=encode_details(exc.details))
    message = _safe_str(exc)
    error = type(exc).__name__
    module = type(exc).__module__
    error_type = error if module == "builtins" else f"{module}.{type(exc).__qualname__}"
    tb_text = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
    details = {"error": error, "error_type": error_type, "message": message, "traceback": tb_text}
    reason = f"{error}: {message}" if message else error
    return Failed(reason=reason, details=_json_details(details))


def canceled_from_exception(exc: ActivityCancelled) -> Canceled:
    """The cancellation reported for an :class:`ActivityCancelled`."""
    return Canceled(details=encode_details(exc.details))


def encode_details(details: Any) -> str | None:
    """Details as SWF text: strings as they are, other values as JSON."""
    if details is None:
        return None
    if isinstance(details, str):
        return details
    return _dumps(details)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not hide the failure
        return f"<unprintable {type(exc).__name__}>"


def _dumps(value: Any) -> str:
    # ensure_ascii=False: SWF counts characters, and "…" must not become "\u2026".
    return json.dumps(value, default=repr, separators=(",", ":"), ensure_ascii=False)


def _json_details(details: dict[str, Any]) -> str:
    """JSON details that fit SWF's limit while staying valid JSON.

    Long tracebacks keep their tail (the innermost frames), long messages
    their head; both carry the truncation marker.
    """
    details = dict(details)
    message = details.get("message")
    if isinstance(message, str) and len(_dumps(details)) > MAX_DETAILS:
        # Leave most of the room to the traceback, which repeats the message anyway.
        details["message"] = truncate(message, MAX_MESSAGE_IN_DETAILS)
    for key, keep_tail in (("traceback", True), ("message", False)):
        for _ in range(4):  # escapes make the first cut an estimate; converge
            text = _dumps(details)
            value = details.get(key)
            if len(text) <= MAX_DETAILS or not isinstance(value, str) or not value:
                break
            room = max(0, len(value) - (len(text) - MAX_DETAILS) - len(TRUNCATION_MARKER))
            if keep_tail:
                body = value.removeprefix(TRUNCATION_MARKER)
                details[key] = TRUNCATION_MARKER + body[len(body) - room :] if room else ""
            else:
                details[key] = truncate(value, room + len(TRUNCATION_MARKER)) if room else ""
    text = _dumps(details)
    return text if len(text) <= MAX_DETAILS else truncate(text, MAX_DETAILS)
