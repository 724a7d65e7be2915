"""Patches to moto's ``SWFBackend``: long polling, token index, cancellation.

Every function here runs with ``_runtime.LOCK`` held (the patched
``SWFResponse.call_action`` takes it); the polls wait on
``_runtime.TASKS_CHANGED``, which releases the lock while waiting.
"""

from __future__ import annotations

import re
import time
from typing import Any

from moto.swf import exceptions as swf_exceptions
from moto.swf.models import SWFBackend

from swfbridge.testing import _patch_models, _runtime

_TOKEN_SHAPE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ORIGINALS: dict[str, Any] = {}


def _backend_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _ORIGINALS["__init__"](self, *args, **kwargs)
    _runtime.BACKENDS.add(self)


def _backend_reset(self: Any) -> None:
    with _runtime.LOCK:
        _ORIGINALS["reset"](self)
        _runtime.bump_epoch()


def _no_global_timeout_scan(self: Any) -> None:
    # moto scans every execution on every call; the sweeper thread and the
    # per-execution checks below replace that.
    return None


def _long_poll(self: Any, domain_name: str, take: Any) -> Any:
    with _runtime.LOCK:
        self._get_domain(domain_name)
        epoch = _runtime.epoch()
        deadline = time.monotonic() + _runtime.SETTINGS.poll_timeout_s
        while True:
            domain = self._get_domain(domain_name, ignore_empty=True)
            if domain is None or _runtime.epoch() != epoch:
                return None
            task = take(domain)
            if task is not None:
                return task
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                return None
            _runtime.TASKS_CHANGED.wait(remaining_s)


def _poll_for_activity_task(
    self: Any, domain_name: str, task_list: str, identity: str | None = None
) -> Any:
    def take(domain: Any) -> Any:
        task = _patch_models.take_activity_task(domain, task_list)
        if task is not None:
            task.workflow_execution.start_activity_task(task.task_token, identity=identity)
        return task

    return _long_poll(self, domain_name, take)


def _poll_for_decision_task(
    self: Any, domain_name: str, task_list: str, identity: str | None = None
) -> Any:
    def take(domain: Any) -> Any:
        task = _patch_models.take_decision_task(domain, task_list)
        if task is not None:
            task.workflow_execution.start_decision_task(task.task_token, identity=identity)
        return task

    return _long_poll(self, domain_name, take)


def _count_pending_activity_tasks(self: Any, domain_name: str, task_list: str) -> int:
    return _patch_models.count_pending_activity_tasks(self._get_domain(domain_name), task_list)


def _count_pending_decision_tasks(self: Any, domain_name: str, task_list: str) -> int:
    return _patch_models.count_pending_decision_tasks(self._get_domain(domain_name), task_list)


def _find_task(self: Any, task_token: str, kind: str) -> Any:
    for domain in self.domains:
        task = domain.sb_tokens.get(task_token)
        if task is not None:
            return task
    if _TOKEN_SHAPE.match(task_token):
        # A token we could have issued whose execution was pruned: closed.
        raise swf_exceptions.SWFUnknownResourceFault(kind)
    raise swf_exceptions.SWFValidationException("Invalid token")


def _check_open(task: Any, kind: str) -> None:
    wfe = task.workflow_execution
    if task.first_timeout() is not None or wfe.first_timeout() is not None:
        wfe._process_timeouts()  # a due timeout closes it before the sweeper does
    if not wfe.open:
        raise swf_exceptions.SWFUnknownResourceFault(
            "execution",
            f"WorkflowExecution=[workflowId={wfe.workflow_id}, runId={wfe.run_id}]",
        )
    if task.state != "STARTED":
        raise swf_exceptions.SWFUnknownResourceFault(
            f"{kind}, scheduledEventId = {task.scheduled_event_id}"
        )


def _respond_decision_task_completed(
    self: Any,
    task_token: str,
    decisions: list[dict[str, Any]] | None = None,
    execution_context: str | None = None,
) -> None:
    task = _find_task(self, task_token, "decision task")
    _check_open(task, "decision task")
    task.workflow_execution.complete_decision_task(
        task.task_token, decisions=decisions, execution_context=execution_context
    )


def _find_activity_task_from_token(self: Any, task_token: str) -> Any:
    task = _find_task(self, task_token, "activity")
    _check_open(task, "activity")
    return task


def _record_activity_task_heartbeat(self: Any, task_token: str, details: Any = None) -> bool:
    task = self._find_activity_task_from_token(task_token)
    task.reset_heartbeat_clock()
    if details:
        task.details = details
    return bool(task.sb_cancel_requested)


def _respond_activity_task_canceled(self: Any, task_token: str, details: Any = None) -> None:
    task = self._find_activity_task_from_token(task_token)
    task.workflow_execution.cancel_activity_task(task.task_token, details=details)


def sweep_all(now: float) -> None:
    """Fire due timeouts and prune old closed executions in every SWF backend."""
    with _runtime.LOCK:
        retention_s = _runtime.SETTINGS.retention_s
        for backend in list(_runtime.BACKENDS):
            for domain in list(getattr(backend, "domains", [])):
                _patch_models.sweep_domain(domain, now, retention_s)


def apply() -> None:
    """Install the backend patches (call once; see ``_moto_patches.apply``)."""
    for name, new in {
        "__init__": _backend_init,
        "reset": _backend_reset,
        "_process_timeouts": _no_global_timeout_scan,
        "poll_for_activity_task": _poll_for_activity_task,
        "poll_for_decision_task": _poll_for_decision_task,
        "count_pending_activity_tasks": _count_pending_activity_tasks,
        "count_pending_decision_tasks": _count_pending_decision_tasks,
        "respond_decision_task_completed": _respond_decision_task_completed,
        "_find_activity_task_from_token": _find_activity_task_from_token,
        "record_activity_task_heartbeat": _record_activity_task_heartbeat,
        "respond_activity_task_canceled": _respond_activity_task_canceled,
    }.items():
        _ORIGINALS[name] = SWFBackend.__dict__.get(name, getattr(SWFBackend, name, None))
        setattr(SWFBackend, name, new)
