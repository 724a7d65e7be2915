"""Patches to moto's SWF models: timeouts, cancellation, priorities, indexes.

Each ``_name`` function below replaces (or wraps) the moto method of the
same name; :func:`apply` installs them. State added to moto objects is
prefixed ``sb_``. Every function here runs with ``_runtime.LOCK`` held.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from moto.swf import exceptions as swf_exceptions
from moto.swf.models import history_event
from moto.swf.models.activity_task import ActivityTask
from moto.swf.models.activity_type import ActivityType
from moto.swf.models.decision_task import DecisionTask
from moto.swf.models.domain import Domain
from moto.swf.models.timeout import Timeout
from moto.swf.models.workflow_execution import WorkflowExecution
from moto.swf.utils import decapitalize

from swfbridge.testing import _runtime
from swfbridge.testing._timeouts import is_valid_timeout, parse_timeout_s

_SEQUENCE = itertools.count()
_EXTRA_EVENT_TYPES = (
    "ActivityTaskCancelRequested",
    "ActivityTaskCanceled",
    "RequestCancelActivityTaskFailed",
)
_ACTIVITY_TIMEOUT_KEYS = (
    "scheduleToStartTimeout",
    "scheduleToCloseTimeout",
    "startToCloseTimeout",
    "heartbeatTimeout",
)
_ORIGINALS: dict[str, Any] = {}


def _timeout_at(obj: Any, base_ts: float | None, value: Any, kind: str) -> Timeout | None:
    limit_s = parse_timeout_s(value)
    if base_ts is None or limit_s is None:
        return None
    return Timeout(obj, base_ts + limit_s, kind)


def _earliest_reached(candidates: list[Timeout | None]) -> Timeout | None:
    reached = [t for t in candidates if t is not None and t.reached]
    return min(reached, key=lambda t: t.timestamp) if reached else None


# --- ActivityTask -----------------------------------------------------------


def _activity_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _ORIGINALS["ActivityTask.__init__"](self, *args, **kwargs)
    now = time.time()
    self.sb_scheduled_ts = now
    self.sb_started_ts = None
    self.last_heartbeat_timestamp = now
    self.sb_priority = 0
    self.sb_sequence = next(_SEQUENCE)
    self.sb_cancel_requested = False
    self.sb_latest_cancel_requested_event_id = None


def _activity_start(self: Any, started_event_id: int) -> None:
    _ORIGINALS["ActivityTask.start"](self, started_event_id)
    now = time.time()
    self.sb_started_ts = now
    self.last_heartbeat_timestamp = now  # SWF starts the heartbeat clock at the poll


def _activity_first_timeout(self: Any) -> Timeout | None:
    if not self.open or not self.workflow_execution.open:
        return None
    timeouts = self.timeouts
    candidates = [
        _timeout_at(
            self, self.sb_scheduled_ts, timeouts.get("scheduleToCloseTimeout"), "SCHEDULE_TO_CLOSE"
        )
    ]
    if self.state == "SCHEDULED":
        candidates.append(
            _timeout_at(
                self,
                self.sb_scheduled_ts,
                timeouts.get("scheduleToStartTimeout"),
                "SCHEDULE_TO_START",
            )
        )
    else:
        candidates.append(
            _timeout_at(
                self, self.sb_started_ts, timeouts.get("startToCloseTimeout"), "START_TO_CLOSE"
            )
        )
        candidates.append(
            _timeout_at(
                self, self.last_heartbeat_timestamp, timeouts.get("heartbeatTimeout"), "HEARTBEAT"
            )
        )
    return _earliest_reached(candidates)


# --- DecisionTask -----------------------------------------------------------


def _decision_first_timeout(self: Any) -> Timeout | None:
    if not self.started or not self.workflow_execution.open:
        return None
    return _earliest_reached(
        [_timeout_at(self, self.started_timestamp, self.start_to_close_timeout, "START_TO_CLOSE")]
    )


# --- WorkflowExecution ------------------------------------------------------


def _wfe_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _ORIGINALS["WorkflowExecution.__init__"](self, *args, **kwargs)
    self.sb_activities_by_id = {}
    self.sb_activity_by_token = {}
    self.sb_open_activities = {}
    self.sb_decisions = []
    self.sb_decision_by_token = {}
    self.sb_next_priority = 0


def _wfe_next_event_id(self: Any) -> int:
    return len(self._events) + 1


def _wfe_activity_tasks(self: Any) -> list[Any]:
    return list(self.sb_activities_by_id.values())


def _wfe_decision_tasks(self: Any) -> list[Any]:
    self.sb_decisions = [d for d in self.sb_decisions if d.state in ("SCHEDULED", "STARTED")]
    return list(self.sb_decisions)


def _wfe_find_activity_task(self: Any, task_token: str) -> Any:
    try:
        return self.sb_activity_by_token[task_token]
    except KeyError:
        raise ValueError(f"No activity task with token: {task_token}") from None


def _wfe_find_decision_task(self: Any, task_token: str) -> Any:
    try:
        return self.sb_decision_by_token[task_token]
    except KeyError:
        raise ValueError(f"No decision task with token: {task_token}") from None


def _wfe_schedule_decision_task(self: Any) -> None:
    # SWF keeps at most one scheduled decision task per execution: new events
    # are simply part of the history that the scheduled task will carry.
    if any(d.state == "SCHEDULED" for d in self.decision_tasks):
        return
    evt = self._add_event(
        "DecisionTaskScheduled",
        start_to_close_timeout=self.task_start_to_close_timeout,
        task_list=self.task_list,
    )
    self.domain.add_to_decision_task_list(self.task_list, DecisionTask(self, evt.event_id))
    self.open_counts["openDecisionTasks"] += 1


def _wfe_validate_decisions(self: Any, decisions: list[dict[str, Any]]) -> None:
    _ORIGINALS["WorkflowExecution.validate_decisions"](self, decisions)
    for number, decision in enumerate(decisions, start=1):
        attributes = decision.get("scheduleActivityTaskDecisionAttributes") or {}
        for key in _ACTIVITY_TIMEOUT_KEYS:
            if key in attributes and not is_valid_timeout(attributes[key]):
                raise swf_exceptions.SWFValidationException(
                    f"Invalid timeout at 'decisions.{number}.member."
                    f"scheduleActivityTaskDecisionAttributes.{key}': {attributes[key]!r}"
                )
        priority = attributes.get("taskPriority")
        if priority is not None and not _is_int_text(priority):
            raise swf_exceptions.SWFValidationException(
                f"Invalid taskPriority at 'decisions.{number}.member."
                f"scheduleActivityTaskDecisionAttributes.taskPriority': {priority!r}"
            )


def _is_int_text(value: Any) -> bool:
    try:
        int(str(value))
    except ValueError:
        return False
    return True


def _wfe_schedule_activity_task(self: Any, event_id: int, attributes: dict[str, Any]) -> None:
    # Fill the type's defaults in (moto drops defaultTaskPriority and records
    # only the decision's own timeouts in the ActivityTaskScheduled event).
    attributes = dict(attributes)
    activity_type = self.domain.get_type(
        "activity",
        attributes["activityType"]["name"],
        attributes["activityType"]["version"],
        ignore_empty=True,
    )
    if activity_type is not None:
        for key in _ACTIVITY_TIMEOUT_KEYS:
            default = getattr(activity_type, "default_task_" + _snake(key), None)
            if attributes.get(key) is None and default is not None:
                attributes[key] = default
        if not (attributes.get("taskList") or {}).get("name") and activity_type.task_list:
            attributes["taskList"] = {"name": activity_type.task_list}
        if attributes.get("taskPriority") is None:
            default_priority = getattr(activity_type, "default_task_priority", None)
            if default_priority is not None:
                attributes["taskPriority"] = default_priority
    self.sb_next_priority = int(str(attributes.get("taskPriority") or 0))
    _ORIGINALS["WorkflowExecution.schedule_activity_task"](self, event_id, attributes)


def _snake(camel: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in camel)


def _wfe_handle_decisions(self: Any, event_id: int, decisions: list[dict[str, Any]]) -> None:
    handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
        "CompleteWorkflowExecution": lambda a: self.complete(event_id, a.get("result")),
        "FailWorkflowExecution": lambda a: self.fail(event_id, a.get("details"), a.get("reason")),
        "ScheduleActivityTask": lambda a: self.schedule_activity_task(event_id, a),
        "RecordMarker": lambda a: self.record_marker(event_id, a),
        "StartTimer": lambda a: self.start_timer(event_id, a),
        "CancelTimer": lambda a: self.cancel_timer(event_id, a["timerId"]),
        "CancelWorkflowExecution": lambda a: self.cancel(event_id, a.get("details")),
        "RequestCancelActivityTask": lambda a: _request_cancel_activity(self, event_id, a),
    }
    for decision in decisions:
        decision_type = decision["decisionType"]
        attributes = decision.get(f"{decapitalize(decision_type)}DecisionAttributes", {})
        handler = handlers.get(decision_type)
        if handler is None:
            raise NotImplementedError(f"Cannot handle decision: {decision_type}")
        handler(attributes)
    self.open_counts["openDecisionTasks"] -= 1


def _request_cancel_activity(wfe: Any, event_id: int, attributes: dict[str, Any]) -> None:
    activity_id = attributes["activityId"]
    task = wfe.sb_activities_by_id.get(activity_id)
    if task is None or not task.open:
        wfe._add_event(
            "RequestCancelActivityTaskFailed",
            activity_id=activity_id,
            cause="ACTIVITY_ID_UNKNOWN",
            decision_task_completed_event_id=event_id,
        )
        wfe.should_schedule_decision_next = True
        return
    evt = wfe._add_event(
        "ActivityTaskCancelRequested",
        activity_id=activity_id,
        decision_task_completed_event_id=event_id,
    )
    task.sb_cancel_requested = True
    task.sb_latest_cancel_requested_event_id = evt.event_id
    if task.state == "SCHEDULED":
        # Not started yet: SWF cancels it right away.
        _close_canceled(wfe, task, details=None)
        wfe.should_schedule_decision_next = True


def _close_canceled(wfe: Any, task: Any, details: Any) -> None:
    wfe._add_event(
        "ActivityTaskCanceled",
        details=details,
        scheduled_event_id=task.scheduled_event_id,
        started_event_id=task.started_event_id,
        latest_cancel_requested_event_id=task.sb_latest_cancel_requested_event_id,
    )
    task.state = "CANCELED"
    wfe.open_counts["openActivityTasks"] -= 1


def _wfe_cancel_activity_task(self: Any, task_token: str, details: Any = None) -> None:
    task = self._find_activity_task(task_token)
    task._check_workflow_execution_open()
    _close_canceled(self, task, details)
    self.schedule_decision_task()


def _wfe_timeout_activity_task(self: Any, timeout: Timeout) -> None:
    _ORIGINALS["WorkflowExecution.timeout_activity_task"](self, timeout)
    self.open_counts["openActivityTasks"] -= 1


def _wfe_timeout_decision_task(self: Any, timeout: Timeout) -> None:
    _ORIGINALS["WorkflowExecution.timeout_decision_task"](self, timeout)
    self.open_counts["openDecisionTasks"] -= 1


def _wfe_first_timeout(self: Any) -> Timeout | None:
    if not self.open or not self.start_timestamp:
        return None
    return _earliest_reached(
        [
            _timeout_at(
                self, self.start_timestamp, self.execution_start_to_close_timeout, "START_TO_CLOSE"
            )
        ]
    )


def _wfe_process_timeouts(self: Any) -> None:
    # Fire the earliest reached timeout, let the execution progress, repeat.
    while self.open:
        candidates: list[Timeout | None] = [self.first_timeout()]
        candidates += [d.first_timeout() for d in self.decision_tasks]
        for token, task in list(self.sb_open_activities.items()):
            if not task.open:
                del self.sb_open_activities[token]
                continue
            candidates.append(task.first_timeout())
        first = _earliest_reached(candidates)
        if first is None:
            return
        if isinstance(first.obj, WorkflowExecution):
            self.timeout(first)
            return
        if isinstance(first.obj, DecisionTask):
            self.timeout_decision_task(first)
        else:
            self.timeout_activity_task(first)
        self.schedule_decision_task()


def _wfe_fire_timer(self: Any, started_event_id: int, timer_id: str) -> None:
    with _runtime.LOCK:
        if self.open:
            _ORIGINALS["WorkflowExecution._fire_timer"](self, started_event_id, timer_id)


# --- Domain: indexes of tasks, tokens and executions -----------------------


def _domain_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _ORIGINALS["Domain.__init__"](self, *args, **kwargs)
    self.sb_activity_queues = {}
    self.sb_decision_queues = {}
    self.sb_tokens = {}
    self.sb_latest_by_id = {}
    self.sb_by_run_id = {}
    self.sb_open = {}
    self.sb_closed = deque()


def _domain_add_to_activity_task_list(self: Any, task_list: str, task: Any) -> None:
    wfe = task.workflow_execution
    task.sb_priority = wfe.sb_next_priority
    queue = self.sb_activity_queues.setdefault(task_list, [])
    heapq.heappush(queue, (-task.sb_priority, task.sb_sequence, task))
    self.sb_tokens[task.task_token] = task
    wfe.sb_activities_by_id[task.activity_id] = task
    wfe.sb_activity_by_token[task.task_token] = task
    wfe.sb_open_activities[task.task_token] = task
    _runtime.TASKS_CHANGED.notify_all()


def _domain_add_to_decision_task_list(self: Any, task_list: str, task: Any) -> None:
    wfe = task.workflow_execution
    self.sb_decision_queues.setdefault(task_list, []).append(task)
    self.sb_tokens[task.task_token] = task
    wfe.sb_decisions.append(task)
    wfe.sb_decision_by_token[task.task_token] = task
    _runtime.TASKS_CHANGED.notify_all()


def _domain_activity_tasks(self: Any) -> list[Any]:
    return [t for t in self.sb_tokens.values() if isinstance(t, ActivityTask)]


def _domain_decision_tasks(self: Any) -> list[Any]:
    return [t for t in self.sb_tokens.values() if isinstance(t, DecisionTask)]


def _domain_add_workflow_execution(self: Any, wfe: Any) -> None:
    latest = self.sb_latest_by_id.get(wfe.workflow_id)
    if latest is not None and latest.open:
        raise swf_exceptions.SWFWorkflowExecutionAlreadyStartedFault()
    self.workflow_executions.append(wfe)
    self.sb_latest_by_id[wfe.workflow_id] = wfe
    self.sb_by_run_id[wfe.run_id] = wfe
    self.sb_open[wfe.run_id] = wfe


def _domain_get_workflow_execution(
    self: Any,
    workflow_id: str,
    run_id: str | None = None,
    raise_if_none: bool = True,
    raise_if_closed: bool = False,
) -> Any:
    if run_id:
        wfe = self.sb_by_run_id.get(run_id)
        if wfe is not None and wfe.workflow_id != workflow_id:
            wfe = None
    else:
        wfe = self.sb_latest_by_id.get(workflow_id)
        if wfe is not None and not wfe.open:
            wfe = None
    if raise_if_closed and wfe is not None and not wfe.open:
        wfe = None
    if wfe is None and raise_if_none:
        if run_id:
            raise swf_exceptions.SWFUnknownResourceFault(
                "execution", f"WorkflowExecution=[workflowId={workflow_id}, runId={run_id}]"
            )
        raise swf_exceptions.SWFUnknownResourceFault(f"execution, workflowId = {workflow_id}")
    return wfe


def take_activity_task(domain: Any, task_list: str) -> Any:
    """Pop the highest-priority, oldest startable activity task of ``task_list``."""
    queue = domain.sb_activity_queues.get(task_list)
    while queue:
        task = heapq.heappop(queue)[2]
        if task.state != "SCHEDULED" or not task.workflow_execution.open:
            continue
        if task.first_timeout() is not None:
            task.workflow_execution._process_timeouts()
            continue
        return task
    return None


def take_decision_task(domain: Any, task_list: str) -> Any:
    """Remove and return the oldest decision task whose execution has none started."""
    queue = domain.sb_decision_queues.get(task_list)
    if not queue:
        return None
    keep = []
    chosen = None
    for task in queue:
        wfe = task.workflow_execution
        if task.state != "SCHEDULED" or not wfe.open:
            continue
        if chosen is None and not any(d.state == "STARTED" for d in wfe.sb_decisions):
            chosen = task
            continue
        keep.append(task)
    domain.sb_decision_queues[task_list] = keep
    return chosen


def count_pending_activity_tasks(domain: Any, task_list: str) -> int:
    """Scheduled, not yet started activity tasks of ``task_list``."""
    queue = domain.sb_activity_queues.get(task_list, [])
    return sum(1 for _, _, t in queue if t.state == "SCHEDULED" and t.workflow_execution.open)


def count_pending_decision_tasks(domain: Any, task_list: str) -> int:
    """Scheduled, not yet started decision tasks of ``task_list``."""
    queue = domain.sb_decision_queues.get(task_list, [])
    return sum(1 for t in queue if t.state == "SCHEDULED" and t.workflow_execution.open)


def sweep_domain(domain: Any, now: float, retention_s: float) -> None:
    """Fire due timeouts, then forget executions closed more than ``retention_s`` ago."""
    for run_id, wfe in list(domain.sb_open.items()):
        wfe._process_timeouts()
        if not wfe.open:
            del domain.sb_open[run_id]
            domain.sb_closed.append((now, wfe))
    pruned: set[int] = set()
    while domain.sb_closed and domain.sb_closed[0][0] + retention_s <= now:
        wfe = domain.sb_closed.popleft()[1]
        pruned.add(id(wfe))
        for token in itertools.chain(wfe.sb_activity_by_token, wfe.sb_decision_by_token):
            domain.sb_tokens.pop(token, None)
        domain.sb_by_run_id.pop(wfe.run_id, None)
        if domain.sb_latest_by_id.get(wfe.workflow_id) is wfe:
            del domain.sb_latest_by_id[wfe.workflow_id]
    if pruned:
        domain.workflow_executions = [w for w in domain.workflow_executions if id(w) not in pruned]


def _replace(cls: type, name: str, new: Any) -> None:
    _ORIGINALS[f"{cls.__name__}.{name}"] = cls.__dict__[name]
    setattr(cls, name, new)


def apply() -> None:
    """Install the model patches (call once; see ``_moto_patches.apply``)."""
    setattr(  # noqa: B010 - the module constant is typed as a fixed-size tuple
        history_event,
        "SUPPORTED_HISTORY_EVENT_TYPES",
        tuple(history_event.SUPPORTED_HISTORY_EVENT_TYPES) + _EXTRA_EVENT_TYPES,
    )
    _replace(ActivityTask, "__init__", _activity_init)
    _replace(ActivityTask, "start", _activity_start)
    _replace(ActivityTask, "first_timeout", _activity_first_timeout)
    _replace(DecisionTask, "first_timeout", _decision_first_timeout)
    _replace(
        ActivityType,
        "_configuration_keys",
        property(
            lambda self: [
                "defaultTaskHeartbeatTimeout",
                "defaultTaskScheduleToCloseTimeout",
                "defaultTaskScheduleToStartTimeout",
                "defaultTaskStartToCloseTimeout",
                "defaultTaskPriority",
            ]
        ),
    )
    for name, new in {
        "__init__": _wfe_init,
        "next_event_id": _wfe_next_event_id,
        "activity_tasks": property(_wfe_activity_tasks),
        "decision_tasks": property(_wfe_decision_tasks),
        "_find_activity_task": _wfe_find_activity_task,
        "_find_decision_task": _wfe_find_decision_task,
        "_schedule_decision_task": _wfe_schedule_decision_task,
        "validate_decisions": _wfe_validate_decisions,
        "schedule_activity_task": _wfe_schedule_activity_task,
        "handle_decisions": _wfe_handle_decisions,
        "timeout_activity_task": _wfe_timeout_activity_task,
        "timeout_decision_task": _wfe_timeout_decision_task,
        "first_timeout": _wfe_first_timeout,
        "_process_timeouts": _wfe_process_timeouts,
        "_fire_timer": _wfe_fire_timer,
    }.items():
        _replace(WorkflowExecution, name, new)
    setattr(WorkflowExecution, "cancel_activity_task", _wfe_cancel_activity_task)  # noqa: B010
    for name, new in {
        "__init__": _domain_init,
        "add_to_activity_task_list": _domain_add_to_activity_task_list,
        "add_to_decision_task_list": _domain_add_to_decision_task_list,
        "activity_tasks": property(_domain_activity_tasks),
        "decision_tasks": property(_domain_decision_tasks),
        "add_workflow_execution": _domain_add_workflow_execution,
        "get_workflow_execution": _domain_get_workflow_execution,
    }.items():
        _replace(Domain, name, new)
