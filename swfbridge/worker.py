"""Running one activity attempt in a worker process, and reporting its outcome.

:class:`ActivityExecutor` knows nothing of Celery's machinery: it takes an
:class:`~swfbridge.job.ActivityJob`, runs the registered activity and returns
an :class:`~swfbridge.outcome.Outcome`; :meth:`ActivityExecutor.report` sends
it to SWF. Whatever the input, result or exception, it returns an outcome.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from swfbridge.activity import Activity
from swfbridge.errors import ActivityCancelled
from swfbridge.functions import FunctionActivities, FunctionUnavailable
from swfbridge.heartbeat import HeartbeatConfig, Heartbeater
from swfbridge.job import ActivityJob
from swfbridge.limits import MAX_DETAILS, MAX_HEARTBEAT_DETAILS, MAX_RESULT
from swfbridge.outcome import (
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
from swfbridge.payloads import (
    ENABLE_HINT,
    InvalidReference,
    PayloadError,
    PayloadStore,
    fit_to_swf,
    is_reference,
    payload_failure,
)
from swfbridge.registry import ActivityRegistry, RegisteredActivity
from swfbridge.respond import report_outcome
from swfbridge.serialization import WireFormat
from swfbridge.swf import SwfClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """How workers run activity attempts.

    Args:
        heartbeat: Heartbeat pacing and the cancellation grace period.
        min_time_left_s: A job whose SWF deadline is closer than this is not
            started: it could not finish in time.
    """

    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    min_time_left_s: float = 1.0


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


class _Interrupter:
    """Interrupts ``run`` after a grace period, once, and only while it runs."""

    def __init__(self, interrupt: Callable[[], None] | None, grace_s: float) -> None:
        self._interrupt = interrupt
        self._grace_s = grace_s
        self._lock = threading.Lock()
        self._running = True
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        if self._interrupt is None:
            return
        with self._lock:
            if self._running and self._timer is None:
                self._timer = threading.Timer(self._grace_s, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._running and self._interrupt is not None:
                log.warning("activity ignored cancellation for %.1fs: interrupting it",
                            self._grace_s)
                self._interrupt()

    def disarm(self) -> None:
        with self._lock:
            self._running = False
            if self._timer is not None:
                self._timer.cancel()


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
        if job.deadline is not None:
            left = job.deadline - self._clock()
            if left < self.config.min_time_left_s:
                return bridge_failure(
                    BridgeCause.DEADLINE_PASSED,
                    f"not started: {max(left, 0):.1f}s left before the start-to-close "
                    f"deadline (the job waited too long in the queue)",
                )
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
            vars(instance)["wire_format"] = self.wire_format
        try:
            text = self._resolve_input(job.input)
        except PayloadError as exc:
            return payload_failure(exc, BridgeCause.INPUT_REFERENCE_REJECTED)
        try:
            args, kwargs = instance._deserialize_arguments(text)  # type: ignore[arg-type]
        except Exception as exc:
            return bridge_failure(BridgeCause.INPUT_UNDECODABLE,
                                  f"input could not be decoded: {exc}")
        mismatch = _signature_mismatch(instance, args, kwargs)
        if mismatch is not None:
            return bridge_failure(BridgeCause.INPUT_SIGNATURE_MISMATCH, mismatch)

        interrupter = _Interrupter(self._interrupt, self.config.heartbeat.cancel_grace_s)
        heartbeater = Heartbeater(
            swf=self.swf,
            task_token=job.task_token,
            interval_s=self.config.heartbeat.interval_for(job.heartbeat_timeout_s),
            liveness=entry.options.auto_heartbeat,
            on_stop_requested=interrupter.arm,
            log_context=job.log_context(),
            fit_details=self._fit_heartbeat_details(),
        )
        instance._bind(_Runtime(job.task_token, heartbeater))
        heartbeater.start()
        try:
            try:
                value = instance.run(*args, **kwargs)
            finally:
                interrupter.disarm()
        except ActivityCancelled as exc:
            return self._after_stop(heartbeater) or canceled_from_exception(exc)
        except SoftTimeLimitExceeded as exc:
            return self._after_stop(heartbeater) or failure_from_exception(exc)
        except Exception as exc:
            return self._after_stop(heartbeater, cancel_wins=False) or failure_from_exception(exc)
        finally:
            heartbeater.stop()
        if heartbeater.task_closed:
            return Abandoned("SWF closed the task while it ran")
        return self._encode_result(instance, value)

    @staticmethod
    def _after_stop(heartbeater: Heartbeater, *, cancel_wins: bool = True) -> Outcome | None:
        """The outcome forced by what SWF said while the activity ran, if any."""
        if heartbeater.task_closed:
            return Abandoned("SWF closed the task while it ran")
        if cancel_wins and heartbeater.cancel_requested:
            return Canceled(details="interrupted after cancellation was requested")
        return None

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
        """Send ``outcome`` to SWF (see :func:`swfbridge.respond.report_outcome`).

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
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        return f"input does not match run{signature}: {exc}"
    return None
