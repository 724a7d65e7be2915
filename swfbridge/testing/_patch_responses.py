"""Patches to moto's ``SWFResponse``: locking, faults, limits, new operations."""

from __future__ import annotations

import base64
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


MAX_PAGE_SIZE = 1000  # SWF's default and largest maximumPageSize


def _page_size(params: dict[str, Any]) -> int:
    size = params.get("maximumPageSize") or MAX_PAGE_SIZE
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_PAGE_SIZE:
        raise swf_exceptions.SWFValidationException(
            f"Invalid maximumPageSize: {size!r} (1 to {MAX_PAGE_SIZE}, or 0 for {MAX_PAGE_SIZE})"
        )
    return size


def _encode_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _decode_token(token: Any, kind: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if isinstance(state, dict) and state.get("kind") == kind:
            return state
    except (ValueError, TypeError):
        pass
    raise swf_exceptions.SWFValidationException(f"Invalid nextPageToken: {str(token)[:40]!r}")


def _page(items: list[Any], offset: int, size: int) -> tuple[list[Any], int | None]:
    """One page of ``items`` from ``offset``, and the next page's offset (None: last page)."""
    end = offset + size
    return items[offset:end], (end if end < len(items) else None)


def _history_page(
    wfe: Any, params: dict[str, Any], state: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of ``wfe``'s history as of ``state["n"]`` events, and the token of the next."""
    events = wfe.events()[: state["n"]]
    if state["reverse"]:
        events = events[::-1]
    # Only the page is serialised: a short page of a long history stays cheap.
    page, nxt = _page(events, state["offset"], _page_size(params))
    return (
        [evt.to_dict() for evt in page],
        None if nxt is None else _encode_token({**state, "offset": nxt}),
    )


def _get_workflow_execution_history(self: Any) -> str:
    params = self._params
    domain_name, run_id, workflow_id = self._get_workflow_execution_params()
    wfe = self.swf_backend.describe_workflow_execution(domain_name, run_id, workflow_id)
    if params.get("nextPageToken"):
        state = _decode_token(params["nextPageToken"], "history")
        if state["run"] != wfe.run_id:
            raise swf_exceptions.SWFValidationException("nextPageToken is for another execution")
    else:
        state = {
            "kind": "history",
            "run": wfe.run_id,
            "n": len(wfe.events()),
            "offset": 0,
            "reverse": bool(params.get("reverseOrder")),
        }
    events, token = _history_page(wfe, params, state)
    answer: dict[str, Any] = {"events": events}
    if token:
        answer["nextPageToken"] = token
    return json.dumps(answer)


def _poll_for_activity_task(self: Any) -> str:
    answer = str(_ORIGINALS["poll_for_activity_task"](self))
    if '"taskToken"' in answer:
        return answer
    return json.dumps({"taskToken": "", "startedEventId": 0})


def _poll_for_decision_task(self: Any) -> str:
    params = self._params
    if params.get("nextPageToken"):
        # A later page of a decision task already handed out: SWF returns the
        # same task with the next events, and takes no new task.
        state = _decode_token(params["nextPageToken"], "decision")
        wfe = self.swf_backend.describe_workflow_execution(
            params["domain"], state["run"], state["task"]["workflowExecution"]["workflowId"]
        )
        events, token = _history_page(wfe, params, state)
        answer = {**state["task"], "events": events}
        if token:
            answer["nextPageToken"] = token
        return json.dumps(answer)
    text = str(_ORIGINALS["poll_for_decision_task"](self))
    if '"taskToken"' in text:
        answer = json.loads(text)
        # SWF sends 0 on an execution's first decision task; moto leaves it out.
        answer.setdefault("previousStartedEventId", 0)
        run_id = answer["workflowExecution"]["runId"]
        wfe = self.swf_backend.describe_workflow_execution(
            params["domain"], run_id, answer["workflowExecution"]["workflowId"]
        )
        task = {
            key: answer[key]
            for key in (
                "taskToken",
                "startedEventId",
                "previousStartedEventId",
                "workflowExecution",
                "workflowType",
            )
        }
        state = {
            "kind": "decision",
            "run": run_id,
            "n": len(wfe.events()),
            "offset": 0,
            "reverse": bool(params.get("reverseOrder")),
            "task": task,
        }
        events, token = _history_page(wfe, params, state)
        answer = {**task, "events": events}
        if token:
            answer["nextPageToken"] = token
        return json.dumps(answer)
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


def _paged_list(name: str, key: str) -> Any:
    """Wrap moto's list operation ``name`` so it honours maximumPageSize and nextPageToken."""

    def paged(self: Any) -> str:
        params = self._params
        size = _page_size(params)
        asked = params.get("maximumPageSize")
        params["maximumPageSize"] = 2**31 - 1  # moto cuts the list itself: page it here
        try:
            answer = json.loads(str(_ORIGINALS[name](self)))
        finally:
            if asked is None:
                params.pop("maximumPageSize")
            else:
                params["maximumPageSize"] = asked
        offset = 0
        if params.get("nextPageToken"):
            offset = int(_decode_token(params["nextPageToken"], name)["offset"])
        page, nxt = _page(list(answer.get(key, [])), offset, size)
        answer[key] = page
        answer.pop("nextPageToken", None)
        if nxt is not None:
            answer["nextPageToken"] = _encode_token({"kind": name, "offset": nxt})
        return json.dumps(answer)

    return paged


_PAGED_LISTS = {
    "list_domains": "domainInfos",
    "list_activity_types": "typeInfos",
    "list_workflow_types": "typeInfos",
    "list_open_workflow_executions": "executionInfos",
    "list_closed_workflow_executions": "executionInfos",
}


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
        "get_workflow_execution_history": _get_workflow_execution_history,
        **{name: _paged_list(name, key) for name, key in _PAGED_LISTS.items()},
    }.items():
        _ORIGINALS[name] = getattr(SWFResponse, name, None)
        setattr(SWFResponse, name, new)
