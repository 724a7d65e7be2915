"""SWF's documented size limits, enforced server-side.

botocore only checks minimum lengths, and other clients check nothing, so
the local endpoint enforces the maxima itself and answers
``ValidationException`` like SWF.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

DATA_MAX = 32_768
REASON_MAX = 256
HEARTBEAT_DETAILS_MAX = 2_048
IDENTITY_MAX = 256

#: Operation -> top-level field -> maximum length in characters.
FIELD_LIMITS: Mapping[str, Mapping[str, int]] = {
    "PollForActivityTask": {"identity": IDENTITY_MAX},
    "PollForDecisionTask": {"identity": IDENTITY_MAX},
    "RecordActivityTaskHeartbeat": {"details": HEARTBEAT_DETAILS_MAX},
    "RespondActivityTaskCompleted": {"result": DATA_MAX},
    "RespondActivityTaskFailed": {"reason": REASON_MAX, "details": DATA_MAX},
    "RespondActivityTaskCanceled": {"details": DATA_MAX},
    "RespondDecisionTaskCompleted": {"executionContext": DATA_MAX},
    "StartWorkflowExecution": {"input": DATA_MAX},
    "SignalWorkflowExecution": {"input": DATA_MAX},
    "TerminateWorkflowExecution": {"reason": REASON_MAX, "details": DATA_MAX},
}

#: Decision attributes key -> field -> maximum length in characters.
DECISION_LIMITS: Mapping[str, Mapping[str, int]] = {
    "scheduleActivityTaskDecisionAttributes": {"input": DATA_MAX, "control": DATA_MAX},
    "completeWorkflowExecutionDecisionAttributes": {"result": DATA_MAX},
    "failWorkflowExecutionDecisionAttributes": {"reason": REASON_MAX, "details": DATA_MAX},
    "cancelWorkflowExecutionDecisionAttributes": {"details": DATA_MAX},
    "recordMarkerDecisionAttributes": {"details": DATA_MAX},
}


def _too_long(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) > limit


def _violations(operation: str, params: Mapping[str, Any]) -> Iterator[str]:
    for field, limit in FIELD_LIMITS.get(operation, {}).items():
        if _too_long(params.get(field), limit):
            yield f"Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {limit}"  # noqa: E501
    if operation != "RespondDecisionTaskCompleted":
        return
    for number, decision in enumerate(params.get("decisions") or [], start=1):
        if not isinstance(decision, dict):
            continue
        for attributes_key, fields in DECISION_LIMITS.items():
            attributes = decision.get(attributes_key) or {}
            for field, limit in fields.items():
                if _too_long(attributes.get(field), limit):
                    where = f"decisions.{number}.member.{attributes_key}.{field}"
                    yield f"Value at '{where}' failed to satisfy constraint: Member must have length less than or equal to {limit}"  # noqa: E501


def size_violation(operation: str, params: Mapping[str, Any]) -> str | None:
    """Return SWF's ValidationException message for ``params``, or None if within limits."""
    problems = list(_violations(operation, params))
    if not problems:
        return None
    label = "error" if len(problems) == 1 else "errors"
    return f"{len(problems)} validation {label} detected: " + "; ".join(problems)


def timeout_violation(params: Mapping[str, Any]) -> str | None:
    """Return a ValidationException message if a top-level ``*Timeout`` is malformed.

    Accepts "NONE" and non-negative numbers, fractions included (SWF itself
    wants whole seconds; fractions let tests run fast).
    """
    from swfbridge.testing._timeouts import is_valid_timeout

    for key, value in params.items():
        if key.endswith("Timeout") and isinstance(value, str) and not is_valid_timeout(value):
            return f"Invalid value at '{key}': {value!r} is not a duration in seconds or NONE"
    return None
