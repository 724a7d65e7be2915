"""Running one activity attempt in a worker process, and reporting its outcome.

:class:`ActivityExecutor` knows nothing of Celery's machinery: it takes an
:class:`~swfbridge.wire.job.ActivityJob`, runs the registered activity and returns
an :class:`~swfbridge.wire.outcome.Outcome`; :meth:`ActivityExecutor.report` sends
it to SWF. Whatever the input, result or exception, it returns an outcome.
"""

from __future__ import annotations

import enum
import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from swfbridge.activities.activity import Activity
from swfbridge.activities.functions import FunctionActivities, FunctionUnavailable
from swfbridge.activities.registry import ActivityRegistry, RegisteredActivity
from swfbridge.aws.respond import report_outcome
from swfbridge.aws.swf import SwfClient
from swfbridge.checks import check_seconds
from swfbridge.errors import ActivityCancelled
from swfbridge.payloads.store import (
    ENABLE_HINT,
    InvalidReference,
    PayloadError,
    PayloadStore,
    fit_to_swf,
    is_reference,
    payload_failure,
)
from swfbridge.wire.deadlines import deadline_passed, too_late_to_start, worker_deadline
from swfbridge.wire.job import ActivityJob
from swfbridge.wire.limits import MAX_DETAILS, MAX_HEARTBEAT_DETAILS, MAX_RESULT
from swfbridge.wire.outcome import (
    Abandoned,
    BridgeCause,
    Canceled,
    Completed,
    Failed,
    Outcome,
    bridge_failure,
    canceled_from_exception,
    failure_from_exception,
)
from swfbridge.wire.serialization import WireFormat
from swfbridge.worker.heartbeat import HeartbeatConfig, Heartbeater

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """How workers run activity attempts.

    Args:
        heartbeat: Heartbeat pacing and the cancellation grace period.
        min_time_left_s: A job with less time than this before the worker's
            deadline (SWF's, minus the margin below) is not started: it could
            not finish in time. It is failed at once instead.
        deadline_margin_s: The worker interrupts an activity this long before
            its start-to-close deadline (at most a quarter of the time the
            task had), so the failure reaches SWF before SWF times the task
            out. Covers the respond call and clock skew between the poller's
            and the worker's machines.

    Raises:
        ConfigurationError: A value is not a non-negative number of seconds.
    """

    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    min_time_left_s: float = 1.0
    deadline_margin_s: float = 2.0

    def __post_init__(self) -> None:
        check_seconds("min_time_left_s", self.min_time_left_s)
        check_seconds("deadline_margin_s", self.deadline_margin_s)


class _Runtime:
    """The bridge side of a running activity (``Activity.heartbeat`` and friends)."""

    def __init__(self, token: str, heartbeater: Heartbeater) -> None:
        self._token = token
        self._heartbeater = heartbeater

    @property
    def token(self) -> str:
        return self._token

    @property
    def cancel_requested(self) -> bool:
        return self._heartbeater.cancel_requested

    def heartbeat(self, details: Any = None) -> bool:
        if self._heartbeater.cancel_requested:
            raise ActivityCancelled(details)
        self._heartbeater.record(details)
        return not self._heartbeater.task_closed


class StopReason(str, enum.Enum):
    """Why the worker interrupted a running activity."""

    CANCELLED = "cancelled"
    TASK_CLOSED = "task_closed"
    DEADLINE = "deadline"


# How long to wait for an interrupt already sent to arrive once run() is over.
_LATE_INTERRUPT_WAIT_S = 2.0


class _Interrupter:
    """Interrupts ``run`` once, for the first reason that comes due, only while it runs.

    The interrupt is asynchronous (prefork: SIGUSR1 to our own process, turned
    into SoftTimeLimitExceeded in the main thread by billiard), so it can land
    after ``run`` returned. :meth:`settle` runs on the main thread right after
    ``run``: it stops the timers and, if an interrupt was sent but has not
    arrived, waits for it and swallows it, so it can neither hide a result
    nor hit the reporting code or the pool's next job.
    """

    def __init__(self, interrupt: Callable[[], None] | None, log_context: str) -> None:
        self._interrupt = interrupt
        self._log_context = log_context
        self._lock = threading.Lock()
        self._running = True
        self._timers: list[threading.Timer] = []
        self._fired: StopReason | None = None
        self._arrived = False

    @property
    def can_interrupt(self) -> bool:
        return self._interrupt is not None

    @property
    def fired(self) -> StopReason | None:
        """The reason the interrupt was sent for, if it was."""
        return self._fired

    def schedule(self, reason: StopReason, delay_s: float) -> None:
        """Interrupt ``run`` in ``delay_s`` seconds, for ``reason``, unless it has ended."""
        if self._interrupt is None:
            return
        with self._lock:
            if not self._running:
                return
            timer = threading.Timer(min(max(0.0, delay_s), threading.TIMEOUT_MAX),
                                    self._fire, args=(reason,))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()

    def _fire(self, reason: StopReason) -> None:
        with self._lock:
            if not self._running or self._fired is not None or self._interrupt is None:
                return
            self._fired = reason
            log.warning("interrupting the activity (%s): %s", reason.value, self._log_context)
            try:
                self._interrupt()
            except Exception:
                log.exception("could not interrupt the activity: %s", self._log_context)

    def note_arrived(self) -> None:
        """``run`` raised SoftTimeLimitExceeded: a sent interrupt has arrived."""
        if self._fired is not None:
            self._arrived = True

    def settle(self) -> None:
        """Stop the timers; absorb an interrupt that was sent but has not arrived yet."""
        while True:
            try:
                self._settle_once()
                return
            except SoftTimeLimitExceeded:
                self._arrived = True

    def _settle_once(self) -> None:
        with self._lock:
            self._running = False
            for timer in self._timers:
                timer.cancel()
        if self._fired is None or self._arrived:
            return
        waited_until = time.monotonic() + _LATE_INTERRUPT_WAIT_S
        while time.monotonic() < waited_until:
            time.sleep(0.01)  # the signal is handled between two of these
        log.warning("an interrupt was sent but never arrived: %s", self._log_context)
        self._arrived = True


class ActivityExecutor:
    """Runs activity attempts for one worker process.

    Args:
        registry: The activity types this process runs.
        swf: SWF client (one per process, created after fork).
        config: Worker settings.
        interrupt: How to interrupt a running activity that ignores
            cancellation (prefork: raise SoftTimeLimitExceeded in it); None
            where the pool cannot interrupt.
        clock: Wall clock (epoch seconds), for deadlines.
        wire_format: The bridge's default wire format, for activity classes
            that do not set ``wire_format`` themselves (None: the class's).
        functions: Runs unregistered types named by an allowed import path
            (simpleflow style); None runs registered types only.
        payloads: S3 offload for values over SWF's limits (None: off, such
            values fail the task or are truncated).
    """

    def __init__(
        self,
        *,
        registry: ActivityRegistry,
        swf: SwfClient,
        config: WorkerConfig | None = None,
        interrupt: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        wire_format: WireFormat | None = None,
        functions: FunctionActivities | None = None,
        payloads: PayloadStore | None = None,
    ) -> None:
        self.registry = registry
        self.wire_format = wire_format
        self.functions = functions
        self.payloads = payloads
        self.swf = swf
        self.config = config or WorkerConfig()
        self._interrupt = interrupt
        self._clock = clock

    def execute(self, job: ActivityJob) -> Outcome:
        """Run the attempt and say how it ended. Never raises for bad data."""
        entry = self.registry.get(job.activity_name, job.activity_version)
        if entry is None and self.functions is not None:
            try:
                entry = self.functions.resolve(job.activity_name, job.activity_version)
            except FunctionUnavailable as exc:
                return exc.failure
        if entry is None:
            return self._unknown_type(job)
        too_late = too_late_to_start(job, now=self._clock(),
                                     margin_s=self.config.deadline_margin_s,
                                     min_time_left_s=self.config.min_time_left_s)
        if too_late is not None:
            return too_late
        return self._run(job, entry)

    def _unknown_type(self, job: ActivityJob) -> Outcome:
        versions = self.registry.versions_of(job.activity_name)
        hint = (
            f"; this fleet runs versions {', '.join(versions)} (a decider on an old or new "
            "version?)"
            if versions
            else "; is its module listed in SWFBRIDGE_ACTIVITIES / -I on the workers?"
        )
        return bridge_failure(
            BridgeCause.UNKNOWN_ACTIVITY_TYPE,
            f"unknown activity type {job.activity_name!r} version "
            f"{job.activity_version!r}{hint}",
            activity_type={"name": job.activity_name, "version": job.activity_version},
        )

    def _run(self, job: ActivityJob, entry: RegisteredActivity) -> Outcome:
        try:
            instance: Activity = entry.cls()
        except Exception as exc:
            return failure_from_exception(exc)
        if self.wire_format is not None and not declares_wire_format(entry.cls):
            instance.wire_format = self.wire_format
        try:
            text = self._resolve_input(job.input)
        except PayloadError as exc:
            return payload_failure(exc, BridgeCause.INPUT_REFERENCE_REJECTED)
        try:
            args, kwargs = instance._deserialize_arguments(text)
        except Exception as exc:
            return bridge_failure(BridgeCause.INPUT_UNDECODABLE,
                                  f"input could not be decoded: {exc}")
        mismatch = _signature_mismatch(instance, args, kwargs)
        if mismatch is not None:
            return bridge_failure(BridgeCause.INPUT_SIGNATURE_MISMATCH, mismatch)

        context = job.log_context()
        interrupter = _Interrupter(self._interrupt, context)
        grace_s = self.config.heartbeat.cancel_grace_s
        heartbeater = Heartbeater(
            swf=self.swf,
            task_token=job.task_token,
            interval_s=self.config.heartbeat.interval_for(job.heartbeat_timeout_s),
            liveness=entry.options.auto_heartbeat,
            fit_details=self._fit_heartbeat_details(),
            on_stop_requested=lambda: interrupter.schedule(
                StopReason.TASK_CLOSED if heartbeater.task_closed else StopReason.CANCELLED,
                grace_s,
            ),
            log_context=context,
        )
        value: Any = None
        error: Exception | None = None
        returned = False
        try:
            if job.heartbeat_timeout_s is not None:
                # The heartbeat clock has run since the poll: restart it, and
                # learn whether SWF still wants this task before doing any work.
                heartbeater.beat_now()
                if heartbeater.task_closed:
                    return Abandoned("SWF no longer knows the task: it timed out or closed "
                                     "while the job was queued; not started")
                if heartbeater.cancel_requested:
                    return Canceled(
                        details="cancellation was requested before the activity started"
                    )
            instance._bind(_Runtime(job.task_token, heartbeater))
            deadline = worker_deadline(job, margin_s=self.config.deadline_margin_s)
            if deadline is not None:
                interrupter.schedule(StopReason.DEADLINE, deadline - self._clock())
            heartbeater.start()
            try:
                try:
                    value = instance.run(*args, **kwargs)
                    returned = True
                except Exception as exc:  # classified below, once the interrupter is settled
                    error = exc
                    if isinstance(exc, SoftTimeLimitExceeded):
                        interrupter.note_arrived()
                interrupter.settle()
            except SoftTimeLimitExceeded as late:
                # A sent interrupt landed between the end of run() and settle().
                interrupter.note_arrived()
                if not returned and error is None:
                    error = late
        finally:
            # Whatever happened, no interrupt may outlive this attempt.
            interrupter.settle()
            heartbeater.stop()
        return self._classify(job, instance, value, error, heartbeater, interrupter)

    def _classify(
        self,
        job: ActivityJob,
        instance: Activity,
        value: Any,
        error: Exception | None,
        heartbeater: Heartbeater,
        interrupter: _Interrupter,
    ) -> Outcome:
        """The outcome of a finished ``run``, given what SWF and the worker did meanwhile."""
        if heartbeater.task_closed:
            return Abandoned("SWF no longer knows the task (it timed out or was closed "
                             "elsewhere while the activity ran)")
        if error is None:
            return self._encode_result(instance, value)
        if isinstance(error, ActivityCancelled):
            return canceled_from_exception(error)
        interrupted = interrupter.fired is not None or isinstance(error, SoftTimeLimitExceeded)
        if not interrupted:
            return failure_from_exception(error)
        if heartbeater.cancel_requested:
            return Canceled(details=(
                f"interrupted {self.config.heartbeat.cancel_grace_s:g}s after cancellation "
                "was requested"
            ))
        # The worker's deadline, or Celery's soft time limit (set from the same deadline).
        raised = "" if isinstance(error, SoftTimeLimitExceeded) else (
            f"; it then raised {type(error).__name__}"
        )
        budget = "" if job.deadline is None else (
            f" ({job.deadline - job.polled_at:g}s after the poll)"
        )
        return deadline_passed(
            f"interrupted at the start-to-close deadline{budget}, before SWF would time it "
            f"out{raised}",
            stage="running",
        )

    def _resolve_input(self, text: str | None) -> str | None:
        """The input itself, fetched from S3 when it arrived as a reference."""
        if text is None or not is_reference(text):
            return text
        if self.payloads is None:
            raise InvalidReference(
                f"input is an S3 reference but S3 offload is off on this worker; {ENABLE_HINT}"
            )
        return self.payloads.resolve(text, what="input")

    def _fit_heartbeat_details(self) -> Callable[[str], str] | None:
        store = self.payloads
        if store is None:
            return None
        return lambda text: store.fit_or_truncate(text, swf_limit=MAX_HEARTBEAT_DETAILS,
                                                  what="heartbeat details")

    def _encode_result(self, instance: Activity, value: Any) -> Outcome:
        try:
            result = instance._serialize_result(value)
        except Exception as exc:
            return bridge_failure(BridgeCause.RESULT_NOT_SERIALIZABLE,
                                  f"result is not JSON-serialisable: {exc}")
        if result is not None and not isinstance(result, str):
            return bridge_failure(
                BridgeCause.RESULT_NOT_SERIALIZABLE,
                f"_serialize_result returned {type(result).__name__}, not str",
            )
        if result is None:
            return Completed(None)
        try:
            # Straight from this process to S3: a large result never crosses the broker.
            return Completed(fit_to_swf(result, swf_limit=MAX_RESULT, store=self.payloads,
                                        what="result"))
        except PayloadError as exc:
            return payload_failure(exc, BridgeCause.RESULT_TOO_LARGE)

    def report(self, job: ActivityJob, outcome: Outcome) -> bool:
        """Send ``outcome`` to SWF (see :func:`swfbridge.aws.respond.report_outcome`).

        Failure or cancellation details over SWF's limit go to S3 first when
        offload is on (else they are truncated).
        """
        if (
            self.payloads is not None
            and isinstance(outcome, (Failed, Canceled))
            and outcome.details is not None
            and len(outcome.details) > MAX_DETAILS
        ):
            try:
                outcome = replace(outcome, details=self.payloads.fit(
                    outcome.details, swf_limit=MAX_DETAILS, what="details"))
            except PayloadError as exc:  # the real outcome matters more than all its details
                log.warning("details kept in SWF, truncated: %s: %s", exc, job.log_context())
        return report_outcome(self.swf, job.task_token, outcome, job.log_context())


def declares_wire_format(cls: type[Activity]) -> bool:
    """True if ``cls`` or a base other than :class:`Activity` sets ``wire_format``."""
    return any("wire_format" in vars(base) for base in cls.__mro__
               if base is not Activity and issubclass(base, Activity))


def _signature_mismatch(instance: Activity, args: list[Any], kwargs: dict[str, Any]) -> str | None:
    try:
        signature = inspect.signature(instance.run)
    except (TypeError, ValueError):
        return None
    run = instance.run
    try:
        if inspect.ismethod(run):
            # Bind with the instance too: a "self" keyword (e.g. into **kwargs) must
            # clash here, not inside the activity's call.
            inspect.signature(run.__func__).bind(run.__self__, *args, **kwargs)
        else:
            signature.bind(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        return f"input does not match run{signature}: {exc}"
    return None
