"""Patches to moto's ``SWFResponse``: locking, faults, limits, new operations."""

from __future__ import annotations

import json
from typing import Any

from moto.swf import exceptions as swf_exceptions
from moto.swf.responses import SWFResponse

from swfbridge.testing import _runtime
from swfbridge.testing._limits import size_violation, timeout_violation
from swfbridge.testing.faults import INJECTOR

_ORIGINALS: dict[str, Any] = {}
_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}


def _error(status: int, error_type: str, message: str) -> tuple[int, dict[str, Any], str]:
    headers: dict[str, Any] = dict(_JSON_HEADERS)
    headers["status"] = status
    return status, headers, json.dumps({"__type": error_type, "message": message})


def _call_action(self: Any) -> Any:
    try:
        action = str(self._get_action())
    except Exception:  # let moto produce its own answer for odd requests
        action = ""
    fault = INJECTOR.draw(action)
    if fault == "throttle":
        return _error(400, "ThrottlingException", "Rate exceeded (injected)")
    if fault == "error":
        return _error(500, "com.amazon.coral.service#InternalFailure", "Injected failure")
    try:
        params = json.loads(self.body or "{}")
    except ValueError:
        params = None
    if isinstance(params, dict):
        problem = size_violation(action, params) or timeout_violation(params)
        if problem:
            return _error(400, "com.amazon.coral.validate#ValidationException", problem)
    with _runtime.LOCK:
        return _ORIGINALS["call_action"](self)


def _poll_for_activity_task(self: Any) -> str:
    answer = str(_ORIGINALS["poll_for_activity_task"](self))
    if '"taskToken"' in answer:
        return answer
    return json.dumps({"taskToken": "", "startedEventId": 0})


def _poll_for_decision_task(self: Any) -> str:
    answer = str(_ORIGINALS["poll_for_decision_task"](self))
    if '"taskToken"' in answer:
        return answer
    return json.dumps(
        {"taskToken": "", "startedEventId": 0, "previousStartedEventId": 0, "events": []}
    )


def _record_activity_task_heartbeat(self: Any) -> str:
    task_token = self._params["taskToken"]
    details = self._params.get("details")
    self._check_string(task_token)
    self._check_none_or_string(details)
    cancel_requested = self.swf_backend.record_activity_task_heartbeat(task_token, details=details)
    return json.dumps({"cancelRequested": bool(cancel_requested)})


def _respond_activity_task_canceled(self: Any) -> str:
    task_token = self._params["taskToken"]
    details = self._params.get("details")
    self._check_string(task_token)
    self._check_none_or_string(details)
    self.swf_backend.respond_activity_task_canceled(task_token, details=details)
    return ""


def _register_activity_type(self: Any) -> str:
    params = self._params
    priority = params.get("defaultTaskPriority")
    self._check_none_or_string(priority)
    if priority is not None:
        try:
            int(priority)
        except ValueError:
            raise swf_exceptions.SWFValidationException(
                f"Invalid defaultTaskPriority: {priority!r}"
            ) from None
    answer = _ORIGINALS["register_activity_type"](self)
    activity_type = self.swf_backend.describe_type(
        "activity", params["domain"], params["name"], params["version"]
    )
    activity_type.default_task_priority = priority
    return str(answer)


def _signal_workflow_execution(self: Any) -> str:
    # moto requires "input", which SWF makes optional.
    params = self._params
    for name in ("domain", "signalName", "workflowId"):
        self._check_string(params.get(name))
    self._check_none_or_string(params.get("input"))
    self._check_none_or_string(params.get("runId"))
    self.swf_backend.signal_workflow_execution(
        params["domain"],
        params["signalName"],
        params["workflowId"],
        params.get("input"),
        params.get("runId"),
    )
    return ""


def apply() -> None:
    """Install the response patches (call once; see ``_moto_patches.apply``)."""
    for name, new in {
        "call_action": _call_action,
        "poll_for_activity_task": _poll_for_activity_task,
        "poll_for_decision_task": _poll_for_decision_task,
        "record_activity_task_heartbeat": _record_activity_task_heartbeat,
        "respond_activity_task_canceled": _respond_activity_task_canceled,
        "register_activity_type": _register_activity_type,
        "signal_workflow_execution": _signal_workflow_execution,
    }.items():
        _ORIGINALS[name] = getattr(SWFResponse, name, None)
        setattr(SWFResponse, name, new)
