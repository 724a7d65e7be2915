"""Joining a Celery app: the fixed-name task that runs activity jobs.

``install(app)`` registers ``swfbridge.run_activity`` on any Celery app, so a
fleet adds SWF work without a second app. The task runs the activity in the
pool process and reports the outcome to SWF itself, right after ``run``
returns: no result backend and no extra broker round trip are involved.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import socket
import time
from collections.abc import Iterable
from typing import Any, NamedTuple, cast

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_failure, worker_init, worker_ready

from swfbridge.activities.functions import FunctionActivities
from swfbridge.activities.registry import ActivityRegistry, default_registry
from swfbridge.aws.respond import report_outcome
from swfbridge.aws.swf import Misconfigured, SwfClient, SwfClientConfig, check_can_sign
from swfbridge.payloads.store import OffloadConfig, PayloadStore
from swfbridge.per_process import per_process
from swfbridge.state.store import (
    BridgeState,
    Claim,
    StateConfig,
    StateUnavailable,
    free_slot,
    state_url,
)
from swfbridge.wire.deadlines import deadline_passed
from swfbridge.wire.job import TASK_NAME, ActivityJob, MalformedJob, token_hint
from swfbridge.wire.outcome import (
    BridgeCause,
    Outcome,
    bridge_failure,
    failure_cause,
    outcome_label,
)
from swfbridge.wire.serialization import WireFormat
from swfbridge.worker.claimrenewal import claim_renewed
from swfbridge.worker.consumer import OneRedisClient
from swfbridge.worker.executor import ActivityExecutor, WorkerConfig
from swfbridge.worker.hooks import (
    ENDINGS,
    UNKNOWN_TYPE_LABEL,
    Attempt,
    AttemptHooks,
    attempt_hooks,
)
from swfbridge.worker.killed import killed_failure
from swfbridge.worker.relays import install_relays
from swfbridge.worker.sqsstart import sqs_start_check

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

    @property
    def state(self) -> BridgeState | None:
        """Claims and slots (per process); the broker's Redis unless configured."""
        return per_process(self, "_state", self._make_state)

    @property
    def executor(self) -> ActivityExecutor:
        """This process's executor; built after fork, so each child has its own client."""
        return per_process(self, "_executor", self._make_executor)

    def _make_state(self) -> BridgeState | None:
        config = self.swf_state_config
        if config is None:
            url = state_url(None, self.app.conf.broker_url)
            config = None if url is None else StateConfig(url=url)
        return None if config is None else BridgeState(config=config)

    def _make_executor(self) -> ActivityExecutor:
        return ActivityExecutor(
            registry=self.swf_registry,
            swf=SwfClient(config=self.swf_client_config),
            config=self.swf_worker_config,
            interrupt=_prefork_interrupt(),
            wire_format=self.swf_wire_format,
            functions=self.swf_functions,
            payloads=(
                None if self.swf_payloads_config is None else PayloadStore(self.swf_payloads_config)
            ),
        )


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


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Pauses between claim attempts while the state store is unreachable.
_CLAIM_RETRY_S = (0.1, 0.25, 0.5, 1.0)


class _Claimed(NamedTuple):
    """What :func:`_claim` decided."""

    run: bool
    """Run the attempt (False: another delivery has claimed it, drop this one)."""
    free_slot: bool
    """Free its capacity slot once it is reported: it holds one, or may."""


def _claim(task: RunActivityTask, job: ActivityJob) -> _Claimed:
    """Claim the attempt; ``run`` is False if another delivery of it has (drop this one).

    While the state store is unreachable the claim is tried again for
    ``WorkerConfig.claim_wait_s`` (at most a quarter of the time left): a
    Redis restart lasts seconds, and an attempt run unclaimed can run twice
    (its acknowledgement was lost with that Redis, so the message comes back).

    The claim's reply says whether the attempt holds a capacity slot; when it
    is not known (a try that failed, a run unclaimed), the slot is freed as if
    it were held.
    """
    state = task.state
    if state is None:
        return _Claimed(run=True, free_slot=False)
    wait_s = _claim_wait_s(task, job)
    started = time.monotonic()
    tries = 0
    while True:
        try:
            found = state.claim_attempt(
                job.attempt_id,
                deadline=job.deadline,
                owner=_owner(),
                domain=job.domain,
                task_list=job.task_list,
            )
            break
        except StateUnavailable as exc:
            pause = _CLAIM_RETRY_S[min(tries, len(_CLAIM_RETRY_S) - 1)]
            tries += 1
            if time.monotonic() - started + pause > wait_s:
                # Running risks a duplicate; not running loses the attempt for sure.
                log.warning(
                    "cannot claim the attempt (%s), running it unclaimed: %s",
                    exc,
                    job.log_context(),
                )
                return _Claimed(run=True, free_slot=True)
            time.sleep(pause)
    taken = found is not Claim.REFUSED
    if not taken and tries:
        # A try that failed on the way back may have taken the claim itself.
        with contextlib.suppress(StateUnavailable):
            if state.claim_owner(job.attempt_id) == _owner():
                return _Claimed(run=True, free_slot=True)
    if taken:
        if tries:
            log.info("attempt claimed after %d tries: %s", tries + 1, job.log_context())
        return _Claimed(run=True, free_slot=found is Claim.TAKEN_WITH_SLOT)
    # Redis redelivers every job running past its short visibility timeout,
    # every time it passes (docs/reliability.rst): expected, not a warning.
    delivery = getattr(getattr(task, "request", None), "delivery_info", None) or {}
    log.log(
        logging.INFO if delivery.get("redelivered") else logging.WARNING,
        "duplicate delivery dropped, the attempt is claimed already: %s",
        job.log_context(),
    )
    return _Claimed(run=False, free_slot=False)


def _claim_wait_s(task: RunActivityTask, job: ActivityJob) -> float:
    """How long a claim may wait for the state store (see :func:`_claim`)."""
    config: WorkerConfig = getattr(task, "swf_worker_config", None) or WorkerConfig()
    wait_s = config.claim_wait_s
    if job.deadline is not None:
        wait_s = min(wait_s, max(0.0, job.deadline - time.time()) / 4)
    return wait_s


def _free_slot(task: RunActivityTask, attempt: Attempt) -> None:
    state, job = task.state, attempt.job
    if state is None or job is None:
        return
    if free_slot(state, job.domain, job.task_list, job.attempt_id, log_context=job.log_context()):
        attempt_hooks(task.app).slot_freed(attempt)


def _job_from_args(args: Any) -> ActivityJob | None:
    try:
        return ActivityJob.from_message(args[0])
    except (MalformedJob, IndexError, TypeError, KeyError):
        return None


def run_activity(task: RunActivityTask, message: Any = None, *args: Any, **kwargs: Any) -> str:
    """Body of ``swfbridge.run_activity``: validate, run, report. Never raises for bad data.

    Every step is told to the app's :class:`~swfbridge.worker.hooks.AttemptHooks`
    (worker metrics among them).

    Returns:
        How the attempt ended and what SWF got, for Celery's "Task ... succeeded"
        log line: ``"<ending>: <what SWF got>"``, the ending being one of
        :data:`~swfbridge.worker.hooks.ENDINGS`.
    """
    hooks = attempt_hooks(task.app)
    attempt = Attempt(task_id=_task_id(task))
    hooks.started(attempt)
    try:
        ending = _attempt(task, attempt, hooks, message)
    except BaseException:
        hooks.ended(attempt, "worker_error")
        raise
    hooks.ended(attempt, ending)
    return f"{ending}: {ENDINGS[ending]}"


def _attempt(task: RunActivityTask, attempt: Attempt, hooks: AttemptHooks, message: Any) -> str:
    """Run one attempt; how it ended (a key of ENDINGS)."""
    try:
        job = ActivityJob.from_message(message)
    except MalformedJob as exc:
        _reject_malformed(task, message, exc)
        return "malformed"
    attempt.job = job
    attempt.type_label = _type_label(task, job)
    claimed = _claim(task, job)
    if not claimed.run:
        return "duplicate"
    log.info("running: %s", job.log_context())
    try:
        executor = task.executor
        outcome: Outcome
        try:
            with claim_renewed(task.state, job, _owner()):
                outcome = executor.execute(job)
        except SoftTimeLimitExceeded:
            # Celery's soft time limit (set from the SWF deadline) outside run(),
            # e.g. while decoding the input.
            outcome = deadline_passed(
                "the start-to-close deadline was reached before the activity could run",
                stage="starting",
            )
        if failure_cause(outcome) in _UNKNOWN_TYPE_CAUSES:
            attempt.type_label = UNKNOWN_TYPE_LABEL
        elif executor.functions is not None:
            attempt.type_label = job.type_label  # an import path that resolved and ran
        hooks.outcome_decided(attempt, outcome)
        if not executor.report(job, outcome):
            return "report_failed"  # not counted as what it would have been
        return outcome_label(outcome)
    finally:
        if claimed.free_slot:
            _free_slot(task, attempt)


_UNKNOWN_TYPE_CAUSES = frozenset(
    {
        BridgeCause.UNKNOWN_ACTIVITY_TYPE,
        BridgeCause.IMPORT_PATH_NOT_ALLOWED,
        BridgeCause.IMPORT_FAILED,
    }
)


def _task_id(task: RunActivityTask) -> str | None:
    task_id = getattr(getattr(task, "request", None), "id", None)
    return task_id if isinstance(task_id, str) else None


def _type_label(task: RunActivityTask, job: ActivityJob) -> str:
    """The type label hooks see: only types the worker runs, so a flood of
    made-up names cannot grow the metrics."""
    if task.executor.registry.get(job.activity_name, job.activity_version) is None:
        return UNKNOWN_TYPE_LABEL
    return job.type_label


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
    :mod:`swfbridge.worker.relays`), and a consumer bootstep that makes the
    worker's task consumer on a Redis broker send through one Redis client
    (see :mod:`swfbridge.worker.consumer`).

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
            :mod:`swfbridge.state.store`); None uses the broker when it is Redis,
            and no claims otherwise (on an SQS broker the worker then refuses to
            start: SQS delivers a message again after its visibility timeout).

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
    # On Redis, the consumer acknowledges through one client, not a new one per call.
    app.steps["consumer"].add(OneRedisClient)
    worker_init.connect(_warn_unsafe_settings(app, attrs["swf_registry"]), weak=False)
    worker_init.connect(sqs_start_check(app, attrs["swf_registry"], state), weak=False)
    worker_init.connect(
        _check_at_start(app, attrs["swf_registry"], swf_config, prefixes), weak=False
    )
    # Mapped Celery tasks end in a relay, not in run_activity: free their slot there.
    install_relays(
        app,
        swf=swf_config,
        payloads=payloads,
        on_reported=lambda job: _free_slot(
            cast(RunActivityTask, task),
            Attempt(task_id=job.attempt_id, job=job, type_label=UNKNOWN_TYPE_LABEL),
        ),
    )
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
    failure = killed_failure(exception, "the activity") or bridge_failure(
        BridgeCause.INTERNAL_ERROR, f"internal error in swfbridge: {exception!r}"
    )
    sender.executor.report(job, failure)
    _free_slot(
        sender, Attempt(task_id=job.attempt_id, job=job, type_label=_type_label(sender, job))
    )


def _accepts_json(accept_content: Any) -> bool:
    accepted = [accept_content] if isinstance(accept_content, str) else list(accept_content or ())
    return any(str(c).lower() in ("json", "application/json") for c in accepted)


def _check_at_start(
    app: Celery, registry: ActivityRegistry, swf: SwfClientConfig, prefixes: tuple[str, ...]
) -> Any:
    """A worker_init handler: what would otherwise fail silently, much later.

    Exits the worker (one line) when the app does not accept JSON (every job
    would be refused) or SWF refuses the region/credentials (no outcome could
    be reported); warns when the worker runs no activity at all; logs the
    activity types it serves.
    """

    def handler(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app:
            return
        if not _accepts_json(app.conf.accept_content):
            _exit_misconfigured(
                f"the Celery app's accept_content ({app.conf.accept_content!r}) lacks 'json': "
                "every swfbridge job would be refused; add 'json' to accept_content"
            )
        try:
            # Short time-outs: an unreachable SWF is not conclusive, only delays start.
            check_can_sign(
                SwfClient(
                    config=dataclasses.replace(swf, read_timeout_s=10.0, connect_timeout_s=5.0)
                )
            )
        except Misconfigured as exc:
            _exit_misconfigured(f"workers could not report to SWF: {exc.message}")

    def ready(sender: Any = None, **_: Any) -> None:
        # Once the worker's logging is set up (worker_init comes before it).
        if getattr(sender, "app", None) is not app:
            return
        types = sorted(f"{e.options.name}@{e.options.version}" for e in registry)
        mapped = sorted(
            name for name in app.tasks if not name.startswith(("celery.", "swfbridge."))
        )
        if not types and not prefixes and not mapped:
            log.warning(
                "this worker runs no activities: set SWFBRIDGE_ACTIVITIES (or celery "
                "-I) to the modules defining them"
            )
            return
        log.info(
            "serving activity types: %s%s%s",
            ", ".join(types) or "(none registered)",
            f"; import paths under {', '.join(prefixes)}" if prefixes else "",
            f"; Celery tasks {', '.join(mapped)}" if mapped else "",
        )

    worker_ready.connect(ready, weak=False)
    return handler


def _exit_misconfigured(message: str) -> None:
    raise SystemExit(f"swfbridge: error: {message}")


def _warn_unsafe_settings(app: Celery, registry: ActivityRegistry) -> Any:
    """A worker_init handler logging the broker settings that break once-only runs."""

    def handler(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app:
            return
        from swfbridge.worker import brokercheck as check

        # Before the consumer connects: its transport reads these options.
        check.apply_redelivery_defaults(app.conf)
        for warning in check.broker_warnings(
            app.conf,
            longest_start_to_close_s=check.longest_start_to_close_s(registry),
            shortest_start_to_close_s=check.shortest_start_to_close_s(registry),
            has_unbounded_activity=any(e.options.start_to_close_s is None for e in registry),
            has_claims=(
                cast(RunActivityTask, app.tasks[TASK_NAME]).swf_state_config is not None
                or state_url(None, app.conf.broker_url) is not None
            ),
        ):
            log.warning("unsafe broker setting: %s", warning)

    return handler
