"""Running one activity attempt in a worker process, and reporting its outcome.

:class:`ActivityExecutor` knows nothing of Celery's machinery: it takes an
:class:`~swfbridge.wire.job.ActivityJob`, runs the registered activity and returns
an :class:`~swfbridge.wire.outcome.Outcome`; :meth:`ActivityExecutor.report` sends
it to SWF. Whatever the input, result or exception, it returns an outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
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
from swfbridge.wire.deadlines import (
    deadline_passed,
    effective_margin_s,
    too_late_to_start,
    worker_deadline,
)
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
from swfbridge.wire.typed import (
    AnnotationError,
    ArgumentConversionError,
    convert_arguments,
    to_json,
)
from swfbridge.worker.heartbeat import HeartbeatConfig, Heartbeater
from swfbridge.worker.interrupts import (
    CoroutineCanceller,
    Interrupter,
    StopReason,
    cancelled_error,
    stop_soon,
)

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
        claim_wait_s: How long a job waits for the state store to take its
            claim (a Redis restart, a fail-over) before it runs unclaimed. A
            run without a claim is not protected from a redelivered copy, and
            a Redis that was down also lost the run's acknowledgement: the
            copy comes back. At most a quarter of the time left is spent.

    Raises:
        ConfigurationError: A value is not a non-negative number of seconds.
    """

    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    min_time_left_s: float = 1.0
    deadline_margin_s: float = 2.0
    claim_wait_s: float = 5.0

    def __post_init__(self) -> None:
        check_seconds("min_time_left_s", self.min_time_left_s)
        check_seconds("deadline_margin_s", self.deadline_margin_s)
        check_seconds("claim_wait_s", self.claim_wait_s)


class _Runtime:
    """The bridge side of a running activity (``Activity.heartbeat`` and friends)."""

    def __init__(
        self, token: str, heartbeater: Heartbeater, observer: Callable[[Any], None] | None = None
    ) -> None:
        self._token = token
        self._heartbeater = heartbeater
        self._observer = observer

    @property
    def token(self) -> str:
        return self._token

    @property
    def cancel_requested(self) -> bool:
        return self._heartbeater.cancel_requested

    def heartbeat(self, details: Any = None) -> bool:
        if self._observer is not None:
            self._observer(details)
        if self._heartbeater.cancel_requested:
            raise ActivityCancelled(details)
        self._heartbeater.record(details)
        return not self._heartbeater.task_closed


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
        heartbeat_observer: Called with the details of every
            ``Activity.heartbeat`` call, in the activity's thread (the test
            environment records them); None in workers.

    ``async def run`` coroutines run on one event loop per executor and
    thread (so per prefork pool process), created at the first async job and
    reused.
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
        heartbeat_observer: Callable[[Any], None] | None = None,
    ) -> None:
        self.registry = registry
        self.wire_format = wire_format
        self.functions = functions
        self.payloads = payloads
        self.swf = swf
        self.config = config or WorkerConfig()
        self._interrupt = interrupt
        self._clock = clock
        self._heartbeat_observer = heartbeat_observer
        # Per thread: one loop per prefork child, one per thread in a threads pool.
        self._loops = threading.local()

    def close(self) -> None:
        """Close this thread's event loop of async activities, if one was made."""
        loop = self._current_loop()
        if loop is not None:
            loop.close()
            self._forget_loop()

    def _current_loop(self) -> asyncio.AbstractEventLoop | None:
        loop: asyncio.AbstractEventLoop | None = getattr(self._loops, "loop", None)
        return loop

    def _forget_loop(self) -> None:
        self._loops.loop = None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        # A plain loop, not asyncio.run / Runner: those install a SIGINT handler,
        # and library code installs no signal handlers.
        loop = self._current_loop()
        if loop is None or loop.is_closed():
            loop = self._loops.loop = asyncio.new_event_loop()
        return loop

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
        too_late = too_late_to_start(
            job,
            now=self._clock(),
            margin_s=self.config.deadline_margin_s,
            min_time_left_s=self.config.min_time_left_s,
        )
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
            f"unknown activity type {job.activity_name!r} version {job.activity_version!r}{hint}",
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
            return bridge_failure(
                BridgeCause.INPUT_UNDECODABLE, f"input could not be decoded: {exc}"
            )
        mismatch = _signature_mismatch(instance, args, kwargs)
        if mismatch is not None:
            return bridge_failure(BridgeCause.INPUT_SIGNATURE_MISMATCH, mismatch)
        if instance.typed:
            try:
                args, kwargs = convert_arguments(instance.run, args, kwargs)
            except ArgumentConversionError as exc:
                return bridge_failure(
                    BridgeCause.INPUT_UNDECODABLE,
                    f"input could not be converted: {exc}",
                    parameter=exc.parameter,
                )
            except AnnotationError as exc:
                return bridge_failure(
                    BridgeCause.INPUT_UNDECODABLE, f"input could not be converted: {exc}"
                )
        is_async = inspect.iscoroutinefunction(instance.run)

        context = job.log_context()
        interrupt = self._interrupt
        if interrupt is None and is_async:
            # No signal to interrupt with (not a prefork child): stopping the loop
            # still ends a coroutine that waits in an await and ignores cancellation.
            interrupt = functools.partial(stop_soon, self._event_loop())
        interrupter = Interrupter(interrupt, context)
        canceller = CoroutineCanceller(self._event_loop()) if is_async else None
        grace_s = self.config.heartbeat.cancel_grace_s

        def stop_requested() -> None:
            reason = StopReason.TASK_CLOSED if heartbeater.task_closed else StopReason.CANCELLED
            if canceller is not None:
                canceller.cancel(reason)
            interrupter.schedule(reason, grace_s)

        heartbeater = Heartbeater(
            swf=self.swf,
            task_token=job.task_token,
            interval_s=self.config.heartbeat.interval_for(job.heartbeat_timeout_s),
            liveness=entry.options.auto_heartbeat,
            fit_details=self._fit_heartbeat_details(),
            on_stop_requested=stop_requested,
            log_context=context,
        )
        value: Any = None
        error: BaseException | None = None
        try:
            if job.heartbeat_timeout_s is not None:
                # The heartbeat clock has run since the poll: restart it, and
                # learn whether SWF still wants this task before doing any work.
                heartbeater.beat_now()
                if heartbeater.task_closed:
                    return Abandoned(
                        "SWF no longer knows the task: it timed out or closed "
                        "while the job was queued; not started"
                    )
                if heartbeater.cancel_requested:
                    return Canceled(
                        details="cancellation was requested before the activity started"
                    )
            instance._bind(_Runtime(job.task_token, heartbeater, self._heartbeat_observer))
            deadline = worker_deadline(job, margin_s=self.config.deadline_margin_s)
            heartbeater.start()
            if canceller is None:
                if deadline is not None:
                    interrupter.schedule(StopReason.DEADLINE, deadline - self._clock())
                value, error = self._call_sync(instance, args, kwargs, interrupter)
            else:
                value, error = self._call_async(
                    job, instance, args, kwargs, deadline, interrupter, canceller
                )
        finally:
            # Whatever happened, no interrupt may outlive this attempt.
            interrupter.settle()
            heartbeater.stop()
        return self._classify(
            job,
            instance,
            value,
            error,
            heartbeater,
            interrupter,
            None if canceller is None else canceller.reason,
        )

    def _call_sync(
        self, instance: Activity, args: list[Any], kwargs: dict[str, Any], interrupter: Interrupter
    ) -> tuple[Any, BaseException | None]:
        """Call a plain ``run``: its value, or what it raised."""
        value: Any = None
        error: BaseException | None = None
        returned = False
        try:
            try:
                value = instance.run(*args, **kwargs)
                returned = True
            except Exception as exc:  # classified later, once the interrupter is settled
                error = exc
                if isinstance(exc, SoftTimeLimitExceeded):
                    interrupter.note_arrived()
            interrupter.settle()
        except SoftTimeLimitExceeded as late:
            # A sent interrupt landed between the end of run() and settle().
            interrupter.note_arrived()
            if not returned and error is None:
                error = late
        return value, error

    def _call_async(
        self,
        job: ActivityJob,
        instance: Activity,
        args: list[Any],
        kwargs: dict[str, Any],
        deadline: float | None,
        interrupter: Interrupter,
        canceller: CoroutineCanceller,
    ) -> tuple[Any, BaseException | None]:
        """Run an ``async def run`` on this process's loop: its value, or what it raised.

        At the worker's deadline the coroutine is cancelled; one that ignores
        it is interrupted (SIGUSR1) half the deadline margin later. On a stop
        request (cancellation, task closed) it is cancelled at once, and
        interrupted after the grace period.
        """
        loop = self._event_loop()
        coroutine = instance.run(*args, **kwargs)
        task = loop.create_task(coroutine)
        canceller.attach(task)
        timer: asyncio.TimerHandle | None = None
        if deadline is not None:
            left = deadline - self._clock()
            timer = loop.call_later(max(0.0, left), canceller.cancel, StopReason.DEADLINE)
            interrupter.schedule(StopReason.DEADLINE, left + self._deadline_margin(job) / 2)
        stops_loop = self._interrupt is None
        escaped: BaseException | None = None
        try:
            try:
                loop.run_until_complete(task)
            except BaseException as exc:  # the task's own outcome is read below
                escaped = exc
                if isinstance(exc, SoftTimeLimitExceeded):
                    interrupter.note_arrived()
            interrupter.settle(wait_for_arrival=not stops_loop)
        except SoftTimeLimitExceeded as late:
            interrupter.note_arrived()
            escaped = escaped or late
        finally:
            canceller.detach()
            if timer is not None:
                timer.cancel()
        if stops_loop and interrupter.fired is not None:
            # The loop may still hold the stop: the next job must not inherit it.
            interrupter.note_arrived()
            self._forget_loop()
            if task.done():
                loop.close()
        if task.done():
            if task.cancelled():
                return None, cancelled_error(task)
            error = task.exception()
            if error is not None and not isinstance(error, Exception):
                raise error  # SystemExit, KeyboardInterrupt: as from a sync run
            return (task.result(), None) if error is None else (None, error)
        # The interrupt landed in the loop itself (the coroutine was waiting and
        # ignored the cancellation): close the coroutine (its finally blocks
        # run) and leave this loop, whose state the interrupt may have broken.
        log.warning("the coroutine ignored its cancellation; closing it: %s", job.log_context())
        try:
            coroutine.close()
        except RuntimeError as exc:
            log.warning("the coroutine would not close (%s): %s", exc, job.log_context())
        with contextlib.suppress(AttributeError):  # logged above, not again at collection
            task._log_destroy_pending = False  # type: ignore[attr-defined]
        self._forget_loop()
        with contextlib.suppress(Exception):
            loop.close()
        if stops_loop and interrupter.fired is not None:
            # Our own loop.stop(), not something the activity raised.
            return None, asyncio.CancelledError("the coroutine ignored its cancellation")
        if isinstance(escaped, (Exception, asyncio.CancelledError)):
            return None, escaped
        raise escaped if escaped is not None else RuntimeError("the event loop stopped early")

    def _deadline_margin(self, job: ActivityJob) -> float:
        return effective_margin_s(job, margin_s=self.config.deadline_margin_s)

    def _classify(
        self,
        job: ActivityJob,
        instance: Activity,
        value: Any,
        error: BaseException | None,
        heartbeater: Heartbeater,
        interrupter: Interrupter,
        cancelled: StopReason | None = None,
    ) -> Outcome:
        """The outcome of a finished ``run``, given what SWF and the worker did meanwhile.

        ``cancelled`` says why an async ``run``'s coroutine was cancelled, if it was.
        """
        if heartbeater.task_closed:
            return Abandoned(
                "SWF no longer knows the task (it timed out or was closed "
                "elsewhere while the activity ran)"
            )
        if error is None:
            return self._encode_result(instance, value)
        if isinstance(error, ActivityCancelled):
            return canceled_from_exception(error)
        interrupted = (
            interrupter.fired is not None
            or cancelled is not None
            or isinstance(error, SoftTimeLimitExceeded)
        )
        if not interrupted:
            return failure_from_exception(error)
        if heartbeater.cancel_requested:
            if interrupter.fired is None and cancelled is not None:
                # The coroutine stopped on its CancelledError: report its last progress.
                return Canceled(details=heartbeater.latest_details)
            return Canceled(
                details=(
                    f"interrupted {self.config.heartbeat.cancel_grace_s:g}s after cancellation "
                    "was requested"
                )
            )
        # The worker's deadline, or Celery's soft time limit (set from the same deadline).
        raised = (
            ""
            if isinstance(error, (SoftTimeLimitExceeded, asyncio.CancelledError))
            else (f"; it then raised {type(error).__name__}")
        )
        budget = (
            "" if job.deadline is None else (f" ({job.deadline - job.polled_at:g}s after the poll)")
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
        return lambda text: store.fit_or_truncate(
            text, swf_limit=MAX_HEARTBEAT_DETAILS, what="heartbeat details"
        )

    def _encode_result(self, instance: Activity, value: Any) -> Outcome:
        try:
            if instance.typed:
                value = to_json(value)
            result = instance._serialize_result(value)
        except Exception as exc:
            return bridge_failure(
                BridgeCause.RESULT_NOT_SERIALIZABLE, f"result is not JSON-serialisable: {exc}"
            )
        if result is not None and not isinstance(result, str):
            return bridge_failure(
                BridgeCause.RESULT_NOT_SERIALIZABLE,
                f"_serialize_result returned {type(result).__name__}, not str",
            )
        if result is None:
            return Completed(None)
        try:
            # Straight from this process to S3: a large result never crosses the broker.
            return Completed(
                fit_to_swf(result, swf_limit=MAX_RESULT, store=self.payloads, what="result")
            )
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
                outcome = replace(
                    outcome,
                    details=self.payloads.fit(
                        outcome.details, swf_limit=MAX_DETAILS, what="details"
                    ),
                )
            except PayloadError as exc:  # the real outcome matters more than all its details
                log.warning("details kept in SWF, truncated: %s: %s", exc, job.log_context())
        return report_outcome(self.swf, job.task_token, outcome, job.log_context())


def declares_wire_format(cls: type[Activity]) -> bool:
    """True if ``cls`` or a base other than :class:`Activity` sets ``wire_format``."""
    return any(
        "wire_format" in vars(base)
        for base in cls.__mro__
        if base is not Activity and issubclass(base, Activity)
    )


def _signature_mismatch(instance: Activity, args: list[Any], kwargs: dict[str, Any]) -> str | None:
    run: Any = instance.run
    method = inspect.ismethod(run)
    # Signatures are computed once per function, not once per job.
    signature = _signature_of(run.__func__ if method else run)
    if signature is None:
        return None
    try:
        if method:
            # Bind with the instance too: a "self" keyword (e.g. into **kwargs) must
            # clash here, not inside the activity's call.
            signature.bind(run.__self__, *args, **kwargs)
        else:
            signature.bind(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        return f"input does not match run{inspect.signature(run)}: {exc}"
    return None


@functools.lru_cache(maxsize=1024)
def _signature_of(function: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None
