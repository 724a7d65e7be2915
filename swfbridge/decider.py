"""A small SWF decider for first steps, tests, examples and benchmarks.

:func:`run_activities` starts one workflow execution, schedules every
activity in its first decision, asks for cancellations when told to, and
completes the workflow once every activity has closed. Each decision is
derived from the whole history, so repeated decision tasks are harmless.

It needs only boto3 (no ``testing`` extra): ``swfbridge run`` uses it against
real SWF too. ``swfbridge.testing`` re-exports it for tests.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from swfbridge.aws.errors import error_code
from swfbridge.errors import SwfBridgeError

OutcomeStatus = Literal["completed", "failed", "timed_out", "canceled", "schedule_failed"]
CancelTrigger = Collection[str] | Callable[[str], bool]
EventListener = Callable[[Mapping[str, Any]], None]

WORKFLOW_NAME = "swfbridge-test-workflow"
WORKFLOW_VERSION = "1"
CANCEL_SIGNAL = "swfbridge.cancel-activity"
DEFAULT_DECIDER_IDENTITY = "swfbridge-test-decider"


class DeciderTimeout(SwfBridgeError, TimeoutError):
    """The workflow did not finish within ``timeout_s`` (it was terminated)."""


@dataclass(frozen=True)
class ScheduledActivity:
    """One activity to schedule. Timeouts are SWF duration strings
    (seconds, fractions allowed on the local endpoint, or "NONE"); None uses
    the activity type's default.

    Attributes:
        activity_id: unique within the workflow execution.
        name: activity type name.
        version: activity type version.
        input: the activity's input text.
        task_list: None uses the run's ``task_list``.
        priority: task priority (higher first); None uses the type's default.
    """

    activity_id: str
    name: str
    version: str
    input: str | None = None
    task_list: str | None = None
    heartbeat_timeout: str | None = None
    schedule_to_start: str | None = None
    schedule_to_close: str | None = None
    start_to_close: str | None = None
    priority: int | None = None


@dataclass(frozen=True)
class ActivityOutcome:
    """How an activity closed, read from the workflow history.

    Attributes:
        status: completed, failed, timed_out, canceled or schedule_failed.
        result: the result of a completed activity.
        reason: the failure reason (for schedule_failed: SWF's cause).
        details: failure, cancellation or last heartbeat details.
        timeout_type: for timed_out: HEARTBEAT, START_TO_CLOSE, ...
    """

    activity_id: str
    status: OutcomeStatus
    result: str | None = None
    reason: str | None = None
    details: str | None = None
    timeout_type: str | None = None


def register_domain(client: Any, domain: str, *, retention_days: str = "1") -> None:
    """Register ``domain`` unless it exists."""
    try:
        client.register_domain(name=domain, workflowExecutionRetentionPeriodInDays=retention_days)
    except Exception as exc:
        if "DomainAlreadyExists" not in error_code(exc):
            raise


def register_activity_type(
    client: Any,
    *,
    domain: str,
    name: str,
    version: str,
    task_list: str | None = None,
    heartbeat_timeout: str | None = "NONE",
    schedule_to_start: str | None = "NONE",
    schedule_to_close: str | None = "NONE",
    start_to_close: str | None = "NONE",
    priority: int | None = None,
    description: str | None = None,
) -> None:
    """Register an activity type with these defaults unless it exists
    (an existing type keeps its defaults: SWF types are immutable).
    """
    kwargs: dict[str, Any] = {"domain": domain, "name": name, "version": version}
    optional = {
        "defaultTaskList": {"name": task_list} if task_list else None,
        "defaultTaskHeartbeatTimeout": heartbeat_timeout,
        "defaultTaskScheduleToStartTimeout": schedule_to_start,
        "defaultTaskScheduleToCloseTimeout": schedule_to_close,
        "defaultTaskStartToCloseTimeout": start_to_close,
        "defaultTaskPriority": str(priority) if priority is not None else None,
        "description": description,
    }
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    try:
        client.register_activity_type(**kwargs)
    except Exception as exc:
        if "TypeAlreadyExists" not in error_code(exc):
            raise


def register_workflow_type(
    client: Any, domain: str, *, name: str = WORKFLOW_NAME, version: str = WORKFLOW_VERSION
) -> None:
    """Register the workflow type the decider starts, unless it exists.

    Defaults: 30 s per decision task, one hour per execution, child policy
    TERMINATE (a decider may override them when it starts an execution).
    """
    try:
        client.register_workflow_type(
            domain=domain,
            name=name,
            version=version,
            defaultTaskStartToCloseTimeout="30",
            defaultExecutionStartToCloseTimeout="3600",
            defaultChildPolicy="TERMINATE",
        )
    except Exception as exc:
        if "TypeAlreadyExists" not in error_code(exc):
            raise


def _schedule_decision(activity: ScheduledActivity, task_list: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "activityType": {"name": activity.name, "version": activity.version},
        "activityId": activity.activity_id,
        "taskList": {"name": activity.task_list or task_list},
    }
    optional = {
        "input": activity.input,
        "heartbeatTimeout": activity.heartbeat_timeout,
        "scheduleToStartTimeout": activity.schedule_to_start,
        "scheduleToCloseTimeout": activity.schedule_to_close,
        "startToCloseTimeout": activity.start_to_close,
        "taskPriority": str(activity.priority) if activity.priority is not None else None,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    return {
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": attributes,
    }


@dataclass
class _History:
    """What the decider needs to know, folded from the events."""

    scheduled: dict[int, str] = field(default_factory=dict)  # scheduledEventId -> activityId
    any_decision_made: bool = False
    started: set[str] = field(default_factory=set)
    cancel_requested: set[str] = field(default_factory=set)
    cancel_signaled: set[str] = field(default_factory=set)
    outcomes: dict[str, ActivityOutcome] = field(default_factory=dict)

    @classmethod
    def fold(cls, events: Iterable[Mapping[str, Any]]) -> _History:
        h = cls()
        for event in sorted(events, key=lambda e: int(e["eventId"])):
            h._apply(event)
        return h

    def _apply(self, event: Mapping[str, Any]) -> None:
        kind = str(event["eventType"])
        attrs: Mapping[str, Any] = event.get(kind[0].lower() + kind[1:] + "EventAttributes", {})
        by_scheduled = self.scheduled.get(int(attrs.get("scheduledEventId", 0) or 0), "")
        if kind == "ActivityTaskScheduled":
            self.scheduled[int(event["eventId"])] = str(attrs["activityId"])
            self.any_decision_made = True
        elif kind == "ScheduleActivityTaskFailed":
            aid = str(attrs["activityId"])
            self.any_decision_made = True
            self.outcomes[aid] = ActivityOutcome(aid, "schedule_failed", reason=attrs.get("cause"))
        elif kind == "ActivityTaskStarted":
            self.started.add(by_scheduled)
        elif kind == "ActivityTaskCancelRequested":
            self.cancel_requested.add(str(attrs["activityId"]))
        elif kind == "WorkflowExecutionSignaled" and attrs.get("signalName") == CANCEL_SIGNAL:
            self.cancel_signaled.add(str(attrs.get("input", "")))
        elif kind == "ActivityTaskCompleted":
            self.outcomes[by_scheduled] = ActivityOutcome(
                by_scheduled, "completed", result=attrs.get("result")
            )
        elif kind == "ActivityTaskFailed":
            self.outcomes[by_scheduled] = ActivityOutcome(
                by_scheduled, "failed", reason=attrs.get("reason"), details=attrs.get("details")
            )
        elif kind == "ActivityTaskTimedOut":
            self.outcomes[by_scheduled] = ActivityOutcome(
                by_scheduled,
                "timed_out",
                details=attrs.get("details"),
                timeout_type=attrs.get("timeoutType"),
            )
        elif kind == "ActivityTaskCanceled":
            self.outcomes[by_scheduled] = ActivityOutcome(
                by_scheduled, "canceled", details=attrs.get("details")
            )


def _wants_cancel(trigger: CancelTrigger, activity_id: str) -> bool:
    if callable(trigger):
        return bool(trigger(activity_id))
    return activity_id in trigger


class _Decider:
    def __init__(
        self,
        client: Any,
        *,
        domain: str,
        task_list: str,
        activities: Sequence[ScheduledActivity],
        cancel_after_start: CancelTrigger,
        timeout_s: float,
        workflow_id: str,
        identity: str,
        workflow_type: tuple[str, str] = (WORKFLOW_NAME, WORKFLOW_VERSION),
        create_domain: bool = True,
        on_event: EventListener | None = None,
    ) -> None:
        self.client = client
        self.workflow_type = workflow_type
        self.create_domain = create_domain
        self.on_event = on_event
        self._events_seen: set[int] = set()
        self.domain = domain
        self.task_list = task_list
        self.activities = list(activities)
        self.cancel_after_start = cancel_after_start
        self.timeout_s = timeout_s
        self.workflow_id = workflow_id
        self.identity = identity
        self.decision_task_list = f"{task_list}-decisions-{uuid.uuid4().hex[:12]}"
        self.run_id: str | None = None
        self.started = threading.Event()

    def run(self) -> dict[str, ActivityOutcome]:
        if self.create_domain:
            register_domain(self.client, self.domain)
        name, version = self.workflow_type
        register_workflow_type(self.client, self.domain, name=name, version=version)
        self.run_id = self.client.start_workflow_execution(
            domain=self.domain,
            workflowId=self.workflow_id,
            workflowType={"name": name, "version": version},
            taskList={"name": self.decision_task_list},
        )["runId"]
        self.started.set()
        deadline = time.monotonic() + self.timeout_s
        finished = threading.Event()
        if self.cancel_after_start:
            threading.Thread(
                target=self._watch_starts,
                args=(finished,),
                daemon=True,
                name=f"cancel-watch-{self.workflow_id}",
            ).start()
        try:
            return self._decide_until(deadline)
        finally:
            finished.set()

    def _watch_starts(self, finished: threading.Event) -> None:
        """Signal the decider when a start matches ``cancel_after_start``.

        SWF gives the decider no decision task when an activity starts, so
        without this nudge the cancellation would wait for some other event.
        """
        signaled: set[str] = set()
        while not finished.wait(0.1):
            try:
                events = self.client.get_workflow_execution_history(
                    domain=self.domain,
                    execution={"workflowId": self.workflow_id, "runId": self.run_id},
                )["events"]
                history = _History.fold(events)
                for aid in history.started - signaled - set(history.outcomes):
                    if _wants_cancel(self.cancel_after_start, aid):
                        self.client.signal_workflow_execution(
                            domain=self.domain,
                            workflowId=self.workflow_id,
                            signalName=CANCEL_SIGNAL,
                            input=aid,
                        )
                        signaled.add(aid)
            except Exception:  # the execution may be closing; the decider has the say
                continue

    def _decide_until(self, deadline: float) -> dict[str, ActivityOutcome]:
        while time.monotonic() < deadline:
            task = self.client.poll_for_decision_task(
                domain=self.domain,
                taskList={"name": self.decision_task_list},
                identity=self.identity,
            )
            token = task.get("taskToken")
            if not token:
                continue
            events = self._events(task)
            self._report_new(events)
            history = _History.fold(events)
            decisions, done = self._decide(history)
            try:
                self.client.respond_decision_task_completed(taskToken=token, decisions=decisions)
            except Exception as exc:
                if "UnknownResource" in error_code(exc):
                    continue  # this decision task timed out; a new one is scheduled
                raise
            if done:
                return {a.activity_id: history.outcomes[a.activity_id] for a in self.activities}
        self._terminate()
        raise DeciderTimeout(f"workflow {self.workflow_id} did not finish in {self.timeout_s} s")

    def _report_new(self, events: Iterable[Mapping[str, Any]]) -> None:
        if self.on_event is None:
            return
        for event in sorted(events, key=lambda e: int(e["eventId"])):
            if int(event["eventId"]) not in self._events_seen:
                self._events_seen.add(int(event["eventId"]))
                self.on_event(event)

    def _events(self, task: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        events = list(task.get("events", []))
        page = task.get("nextPageToken")
        while page:
            more = self.client.poll_for_decision_task(
                domain=self.domain,
                taskList={"name": self.decision_task_list},
                identity=self.identity,
                nextPageToken=page,
            )
            events += more.get("events", [])
            page = more.get("nextPageToken")
        return events

    def _decide(self, history: _History) -> tuple[list[dict[str, Any]], bool]:
        if not history.any_decision_made and self.activities:
            return [_schedule_decision(a, self.task_list) for a in self.activities], False
        if all(a.activity_id in history.outcomes for a in self.activities):
            return [{"decisionType": "CompleteWorkflowExecution"}], True
        decisions = []
        for activity in self.activities:
            aid = activity.activity_id
            if aid in history.outcomes or aid in history.cancel_requested:
                continue
            wanted = aid in history.cancel_signaled or (
                aid in history.started and _wants_cancel(self.cancel_after_start, aid)
            )
            if wanted:
                decisions.append(
                    {
                        "decisionType": "RequestCancelActivityTask",
                        "requestCancelActivityTaskDecisionAttributes": {"activityId": aid},
                    }
                )
        return decisions, False

    def _terminate(self) -> None:
        try:
            self.client.terminate_workflow_execution(
                domain=self.domain, workflowId=self.workflow_id, reason="decider timed out"
            )
        except Exception:  # best effort: the execution may be closed already
            return


def run_activities(
    client: Any,
    *,
    domain: str,
    task_list: str,
    activities: Sequence[ScheduledActivity],
    cancel_after_start: CancelTrigger = frozenset(),
    timeout_s: float = 60.0,
    workflow_id: str | None = None,
    identity: str = DEFAULT_DECIDER_IDENTITY,
    workflow_type: tuple[str, str] = (WORKFLOW_NAME, WORKFLOW_VERSION),
    create_domain: bool = True,
    on_event: EventListener | None = None,
) -> dict[str, ActivityOutcome]:
    """Run one workflow that schedules ``activities`` and wait for them all to close.

    Registers the domain (unless ``create_domain`` is false) and the workflow
    type if needed (activity types must be registered already, e.g. with
    ``swfbridge register`` or :func:`register_activity_type`). Decision
    tasks use a private task list, so concurrent runs do not steal each
    other's decisions.

    Args:
        client: a boto3 SWF client (e.g. ``LocalSWF.client()``).
        domain: SWF domain.
        task_list: default activity task list.
        activities: what to schedule, all in the first decision.
        cancel_after_start: activity ids, or a predicate on the activity id;
            once a match has started (``ActivityTaskStarted``, watched every
            0.1 s) it gets a ``RequestCancelActivityTask`` decision (once).
            For cancellations at a moment of your choosing, use
            :meth:`ActivityRun.request_cancel`.
        timeout_s: overall deadline; a decision poll may overrun it by up to
            the server's poll timeout.
        workflow_id: defaults to a fresh unique id.
        identity: decider identity sent with polls.
        workflow_type: (name, version) of the workflow type to start,
            registered if missing.
        create_domain: register the domain if it does not exist; when false,
            a missing domain is an ``UnknownResourceFault`` from SWF.
        on_event: called with each history event as the decider first sees it
            (in decision tasks, so in order but in bursts), e.g. to print
            progress.

    Returns:
        The outcome of each activity, by activity id.

    Raises:
        DeciderTimeout: if not all activities closed in time (the execution
            is terminated).
        botocore.exceptions.ClientError: on unexpected SWF errors.
    """
    return _Decider(
        client,
        domain=domain,
        task_list=task_list,
        activities=activities,
        cancel_after_start=cancel_after_start,
        timeout_s=timeout_s,
        workflow_id=workflow_id or _new_workflow_id(),
        identity=identity,
        workflow_type=workflow_type,
        create_domain=create_domain,
        on_event=on_event,
    ).run()


def _new_workflow_id() -> str:
    return f"swfbridge-test-{uuid.uuid4().hex}"


class ActivityRun:
    """A :func:`run_activities` call running in a background thread."""

    def __init__(self, decider: _Decider) -> None:
        self._decider = decider
        self._outcomes: dict[str, ActivityOutcome] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"decider-{decider.workflow_id}", daemon=True
        )

    @property
    def workflow_id(self) -> str:
        """The workflow id of this run."""
        return self._decider.workflow_id

    def _run(self) -> None:
        try:
            self._outcomes = self._decider.run()
        except BaseException as exc:  # handed to the waiting thread by wait()
            self._error = exc
        finally:
            self._decider.started.set()

    def wait_started(self, timeout_s: float = 10.0) -> str:
        """Wait until the execution is started; return its run id.

        Raises:
            TimeoutError: if it did not start in time.
        """
        if not self._decider.started.wait(timeout_s) or self._decider.run_id is None:
            if self._error is not None:
                raise self._error
            raise TimeoutError("workflow execution not started")
        return self._decider.run_id

    def request_cancel(self, activity_id: str) -> None:
        """Have the decider request cancellation of ``activity_id`` now.

        Sends a workflow signal, which gives the decider a decision task.
        """
        self.wait_started()
        self._decider.client.signal_workflow_execution(
            domain=self._decider.domain,
            workflowId=self.workflow_id,
            signalName=CANCEL_SIGNAL,
            input=activity_id,
        )

    def done(self) -> bool:
        """True once the run finished (successfully or not)."""
        return not self._thread.is_alive()

    def wait(self, timeout_s: float | None = None) -> dict[str, ActivityOutcome]:
        """Wait for the outcomes.

        Raises:
            TimeoutError: if the run did not finish within ``timeout_s``.
            Exception: whatever the run raised (e.g. :class:`DeciderTimeout`).
        """
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"decider for {self.workflow_id} still running")
        if self._error is not None:
            raise self._error
        assert self._outcomes is not None
        return self._outcomes


def start_activities(
    client: Any,
    *,
    domain: str,
    task_list: str,
    activities: Sequence[ScheduledActivity],
    cancel_after_start: CancelTrigger = frozenset(),
    timeout_s: float = 60.0,
    workflow_id: str | None = None,
    identity: str = DEFAULT_DECIDER_IDENTITY,
    workflow_type: tuple[str, str] = (WORKFLOW_NAME, WORKFLOW_VERSION),
    create_domain: bool = True,
    on_event: EventListener | None = None,
) -> ActivityRun:
    """Like :func:`run_activities`, in a background thread; returns at once.

    Use a client of its own for the run if other threads use yours heavily.
    """
    run = ActivityRun(
        _Decider(
            client,
            domain=domain,
            task_list=task_list,
            activities=activities,
            cancel_after_start=cancel_after_start,
            timeout_s=timeout_s,
            workflow_id=workflow_id or _new_workflow_id(),
            identity=identity,
            workflow_type=workflow_type,
            create_domain=create_domain,
            on_event=on_event,
        )
    )
    run._thread.start()
    return run
