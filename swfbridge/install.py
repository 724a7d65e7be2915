"""Joining a Celery app: the fixed-name task that runs activity jobs.

``install(app)`` registers ``swfbridge.run_activity`` on any Celery app, so a
fleet adds SWF work without a second app. The task runs the activity in the
pool process and reports the outcome to SWF itself, right after ``run``
returns: no result backend and no extra broker round trip are involved.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Iterable
from typing import Any, cast

from billiard.exceptions import WorkerLostError
from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import task_failure, worker_init

from swfbridge.celery_tasks import install_relays
from swfbridge.functions import FunctionActivities
from swfbridge.inflight import BridgeState, StateConfig, StateUnavailable
from swfbridge.job import TASK_NAME, ActivityJob, MalformedJob, token_hint
from swfbridge.outcome import BridgeCause, Outcome, bridge_failure, outcome_label
from swfbridge.payloads import OffloadConfig, PayloadStore
from swfbridge.registry import ActivityRegistry, default_registry
from swfbridge.respond import report_outcome
from swfbridge.serialization import WireFormat
from swfbridge.swf import SwfClient, SwfClientConfig
from swfbridge.worker import ActivityExecutor, WorkerConfig

log = logging.getLogger(__name__)

# Task options every bridge job needs, whatever the app's configuration:
# JSON only (never unpickle what a broker hands us), acknowledge after the
# outcome is reported, no result backend.
TASK_OPTIONS: dict[str, Any] = {
    "name": TASK_NAME,
    "serializer": "json",
    "acks_late": True,
    "ignore_result": True,
    "typing": False,
    # A killed pool child is reported by the task_failure handler below, not
    # re-run blindly (SWF's clocks are running; the decider decides).
    "reject_on_worker_lost": False,
}

# Settings the default app uses and an existing app should adopt.
RECOMMENDED_SETTINGS: dict[str, Any] = {
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "task_acks_late": True,
    "task_ignore_result": True,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
}


class RunActivityTask(Task):  # type: ignore[type-arg]
    """The Celery task class behind ``swfbridge.run_activity``."""

    swf_registry: ActivityRegistry = default_registry
    swf_client_config: SwfClientConfig = SwfClientConfig()
    swf_worker_config: WorkerConfig = WorkerConfig()
    swf_wire_format: WireFormat | None = None
    swf_functions: FunctionActivities | None = None
    swf_payloads_config: OffloadConfig | None = None
    swf_state_config: StateConfig | None = None
    _executor: ActivityExecutor | None = None
    _executor_pid: int | None = None
    _state: BridgeState | None = None
    _state_pid: int | None = None

    @property
    def state(self) -> BridgeState | None:
        """Claims and slots (per process); the broker's Redis unless configured."""
        if self._state_pid != os.getpid():
            config = self.swf_state_config or _state_from_broker(self.app.conf.broker_url)
            self._state = None if config is None else BridgeState(config=config)
            self._state_pid = os.getpid()
        return self._state

    @property
    def executor(self) -> ActivityExecutor:
        """This process's executor; built after fork, so each child has its own client."""
        if self._executor is None or self._executor_pid != os.getpid():
            self._executor = ActivityExecutor(
                registry=self.swf_registry,
                swf=SwfClient(config=self.swf_client_config),
                config=self.swf_worker_config,
                interrupt=_prefork_interrupt(),
                wire_format=self.swf_wire_format,
                functions=self.swf_functions,
                payloads=(None if self.swf_payloads_config is None
                          else PayloadStore(self.swf_payloads_config)),
            )
            self._executor_pid = os.getpid()
        return self._executor


def _prefork_interrupt() -> Any:
    """SIGUSR1 to ourselves raises SoftTimeLimitExceeded, but only in a prefork child."""
    try:
        from billiard.process import current_process
    except ImportError:  # pragma: no cover - billiard ships with celery
        return None
    if not current_process().name.startswith("ForkPoolWorker"):
        return None
    pid = os.getpid()
    return lambda: os.kill(pid, signal.SIGUSR1)


def _state_from_broker(broker_url: Any) -> StateConfig | None:
    if isinstance(broker_url, str) and broker_url.startswith(("redis://", "rediss://")):
        return StateConfig(url=broker_url)
    return None


def _claim(task: RunActivityTask, job: ActivityJob) -> bool:
    """Claim the attempt; False if another delivery of it has (drop this one)."""
    state = task.state
    if state is None:
        return True
    try:
        if state.claim(job.attempt_id, deadline=job.deadline,
                       owner=f"{socket.gethostname()}:{os.getpid()}"):
            return True
    except StateUnavailable as exc:
        # Running risks a duplicate; not running loses the attempt for sure.
        log.warning("cannot claim the attempt (%s), running it unclaimed: %s", exc,
                    job.log_context())
        return True
    log.warning("duplicate delivery dropped, the attempt is claimed already: %s",
                job.log_context())
    return False


def _free_slot(task: RunActivityTask, job: ActivityJob) -> None:
    state = task.state
    if state is None:
        return
    try:
        state.release(job.domain, job.task_list, job.attempt_id)
    except StateUnavailable as exc:
        log.warning("could not free the slot (%s); it expires at the deadline: %s", exc,
                    job.log_context())


def _job_from_args(args: Any) -> ActivityJob | None:
    try:
        return ActivityJob.from_message(args[0])
    except (MalformedJob, IndexError, TypeError, KeyError):
        return None


def run_activity(task: RunActivityTask, message: Any = None, *args: Any, **kwargs: Any) -> str:
    """Body of ``swfbridge.run_activity``: validate, run, report. Never raises for bad data.

    Returns:
        How the attempt ended (:func:`~swfbridge.outcome.outcome_label`, or
        ``malformed`` / ``duplicate``): Celery logs it, and worker metrics count it.
    """
    try:
        job = ActivityJob.from_message(message)
    except MalformedJob as exc:
        _reject_malformed(task, message, exc)
        return "malformed"
    if not _claim(task, job):
        return "duplicate"
    log.info("running: %s", job.log_context())
    try:
        executor = task.executor
        outcome: Outcome
        try:
            outcome = executor.execute(job)
        except SoftTimeLimitExceeded:
            # Celery's soft time limit (set from the SWF deadline) outside run(),
            # e.g. while decoding the input.
            outcome = bridge_failure(
                BridgeCause.DEADLINE_PASSED,
                "the start-to-close deadline was reached before the activity could run",
                stage="starting",
            )
        executor.report(job, outcome)
        return outcome_label(outcome)
    finally:
        _free_slot(task, job)


def _reject_malformed(task: RunActivityTask, message: Any, exc: MalformedJob) -> None:
    token = message.get("task_token") if isinstance(message, dict) else None
    if not isinstance(token, str) or not token:
        log.error("dropping malformed job without a task token: %s", exc)
        return
    log.error("malformed job (%s), failing its task %s", exc, token_hint(token))
    outcome = bridge_failure(BridgeCause.MALFORMED_JOB, f"malformed job message: {exc}")
    report_outcome(task.executor.swf, token, outcome, f"task={token_hint(token)}")


def install(
    app: Celery,
    *,
    registry: ActivityRegistry | None = None,
    swf: SwfClientConfig | None = None,
    worker: WorkerConfig | None = None,
    wire_format: WireFormat | None = None,
    function_prefixes: Iterable[str] = (),
    payloads: OffloadConfig | None = None,
    state: StateConfig | None = None,
) -> Task:  # type: ignore[type-arg]
    """Register the bridge tasks on ``app`` and return the activity task.

    Besides ``swfbridge.run_activity``, this registers the relay tasks that
    report the outcome of existing Celery tasks mapped to activity types
    (``swfbridge.relay_result``, ``swfbridge.relay_failure``; see
    :mod:`swfbridge.celery_tasks`).

    Args:
        app: The Celery app whose workers will run SWF activities.
        registry: Activity types to run (the default registry if None).
        swf: How workers reach SWF (boto3's own settings if None).
        worker: Worker behaviour (heartbeats, deadlines).
        wire_format: Default wire format of activity classes that do not set
            ``wire_format`` themselves (None: flowy's, the class default;
            ``JSON`` for deciders that send one JSON value).
        function_prefixes: Module prefixes under which unregistered activity
            types named by import path (simpleflow style) may be imported and
            run; empty (the default) runs registered types only.
        payloads: S3 offload for results and details over SWF's 32 KB, and
            for inputs that arrive as S3 references (off if None). See
            docs/payloads.rst.
        state: Where attempt claims and capacity slots live (see
            :mod:`swfbridge.inflight`); None uses the broker when it is Redis,
            and no claims otherwise.

    Returns:
        The registered task (``swfbridge.run_activity``).

    Raises:
        ConfigurationError: A function prefix is not a dotted module name.
    """
    prefixes = tuple(function_prefixes)
    swf_config = swf or SwfClientConfig()
    attrs: dict[str, Any] = {
        "swf_registry": registry if registry is not None else default_registry,
        "swf_client_config": swf_config,
        "swf_worker_config": worker or WorkerConfig(),
        "swf_wire_format": wire_format,
        "swf_functions": FunctionActivities(prefixes) if prefixes else None,
        "swf_payloads_config": payloads,
        "swf_state_config": state,
    }
    base = type("RunActivityTask", (RunActivityTask,), attrs)
    task: Task = app.task(  # type: ignore[type-arg, no-untyped-call]
        bind=True, base=base, **TASK_OPTIONS
    )(run_activity)
    task_failure.connect(_on_task_failure, sender=task, weak=False)
    worker_init.connect(_warn_unsafe_settings(app, attrs["swf_registry"]), weak=False)
    # Mapped Celery tasks end in a relay, not in run_activity: free their slot there.
    install_relays(app, swf=swf_config, payloads=payloads,
                   on_reported=lambda job: _free_slot(cast(RunActivityTask, task), job))
    return task


def _on_task_failure(
    sender: RunActivityTask | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    **_: Any,
) -> None:
    """Fail the attempt at once when its job died without reporting.

    The body reports every outcome itself, so this runs only when it could not:
    the pool child was killed (``WorkerLostError``, signalled in the worker's
    main process) or swfbridge has a bug. Celery may signal twice; a second
    report on a closed task is a logged no-op.
    """
    job = _job_from_args(args)
    if sender is None or job is None:
        return
    if isinstance(exception, TimeLimitExceeded):
        message = f"the activity ran past its start-to-close deadline ({exception})"
        cause = BridgeCause.DEADLINE_PASSED
    elif isinstance(exception, WorkerLostError):
        message = f"the worker process running the activity was lost ({exception})"
        cause = BridgeCause.WORKER_LOST
    else:
        message = f"internal error in swfbridge: {exception!r}"
        cause = BridgeCause.INTERNAL_ERROR
    sender.executor.report(job, bridge_failure(cause, message))
    _free_slot(sender, job)


def _warn_unsafe_settings(app: Celery, registry: ActivityRegistry) -> Any:
    """A worker_init handler logging the broker settings that break once-only runs."""

    def handler(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app:
            return
        from swfbridge.brokercheck import broker_warnings, longest_start_to_close_s

        for warning in broker_warnings(
            app.conf,
            longest_start_to_close_s=longest_start_to_close_s(registry),
            has_unbounded_activity=any(e.options.start_to_close_s is None for e in registry),
        ):
            log.warning("unsafe broker setting: %s", warning)

    return handler
