"""Existing Celery tasks as SWF activities: relaying their outcome (worker side).

The poller (:mod:`swfbridge.poller.mapped`) decodes a mapped task's SWF input
into args and kwargs and publishes the Celery task under its own name, with
two callbacks on the job:

* ``link`` → ``swfbridge.relay_result``: Celery sends it as a new message
  (to the job's queue) once the task returns; it encodes the return value
  for SWF and completes the activity.
* ``link_error`` → ``swfbridge.relay_failure``: a new-style errback, which
  Celery calls inline in the process where the task failed; it fails the
  activity with the exception's reason and details.

The task itself stays SWF-agnostic. Both relays carry the job (without its
input) so they need no state; :func:`install_relays` registers them on the
app, and a ``task_unknown`` handler fails the activity at once when the
mapped task is not registered on the worker that received it. Every relay is
idempotent: answering a task SWF has already closed is a logged no-op.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.signals import task_unknown

from swfbridge.aws.respond import report_outcome
from swfbridge.aws.swf import SwfClient, SwfClientConfig
from swfbridge.payloads.store import (
    OffloadConfig,
    PayloadError,
    PayloadStore,
    fit_to_swf,
    payload_failure,
)
from swfbridge.per_process import PerProcess
from swfbridge.wire.job import RELAY_FAILURE_TASK, RELAY_RESULT_TASK, ActivityJob, MalformedJob
from swfbridge.wire.limits import MAX_RESULT
from swfbridge.wire.outcome import (
    BridgeCause,
    Completed,
    Failed,
    Outcome,
    bridge_failure,
    failure_from_exception,
)
from swfbridge.wire.serialization import FLOWY, ResultEncodeError, WireFormat
from swfbridge.wire.serialization import wire_format as wire_format_named
from swfbridge.worker.killed import killed_failure

log = logging.getLogger(__name__)

# Relays are short SWF calls; JSON only; acknowledged after the call so a
# crash re-runs them (harmless: SWF ignores a second answer).
RELAY_TASK_OPTIONS: dict[str, Any] = {
    "serializer": "json",
    "acks_late": True,
    "ignore_result": True,
    "typing": False,
}


def result_outcome(
    value: Any, fmt: WireFormat, task: str, store: PayloadStore | None = None
) -> Outcome:
    """The outcome for a mapped task's return value (encoded in ``fmt``).

    A result over SWF's limit goes to S3 when ``store`` is given (offload on),
    else fails with a reason that says how to enable offload.
    """
    try:
        result = fmt.encode_result(value)
    except ResultEncodeError as exc:
        return bridge_failure(
            BridgeCause.RESULT_NOT_SERIALIZABLE,
            f"result of Celery task {task!r} is not JSON-serialisable: {exc}",
        )
    try:
        return Completed(
            fit_to_swf(
                result, swf_limit=MAX_RESULT, store=store, what=f"result of Celery task {task!r}"
            )
        )
    except PayloadError as exc:
        return payload_failure(exc, BridgeCause.RESULT_TOO_LARGE)


def failure_outcome(exc: BaseException | None, task: str, celery_task_id: str | None) -> Failed:
    """The failure for a mapped task that raised ``exc`` (None: the errback got only its id)."""
    from kombu.exceptions import EncodeError

    if exc is None:
        return bridge_failure(
            BridgeCause.FAILURE_NOT_RELAYED,
            f"Celery task {task!r} failed on a worker without swfbridge.install(app); its "
            f"exception is in that worker's log (Celery task id {celery_task_id})",
        )
    if isinstance(exc, EncodeError):
        # Raised while sending the success relay: the return value is not JSON.
        return bridge_failure(
            BridgeCause.RESULT_NOT_SERIALIZABLE,
            f"result of Celery task {task!r} is not JSON-serialisable: {exc}",
        )
    return killed_failure(exc, f"Celery task {task!r}") or failure_from_exception(exc)


UNKNOWN_TASK_BACKLOG = 256
"""Unknown-task failures waiting for the background reporter, at most (more are dropped)."""


class _Relay:
    """The relays' state: one SWF client per process, made after fork."""

    def __init__(
        self,
        swf: SwfClientConfig,
        payloads: OffloadConfig | None,
        on_reported: Callable[[ActivityJob], None] | None,
    ) -> None:
        self._config = swf
        self._on_reported = on_reported
        # PayloadStore makes its S3 client lazily, in the process that uses it.
        self._store = None if payloads is None else PayloadStore(payloads)
        self._client = PerProcess(lambda: SwfClient(config=swf))
        self._backlog = PerProcess(self._start_backlog)

    @property
    def swf(self) -> SwfClient:
        return self._client.get()

    def report(self, job_message: Any, outcome_for: Callable[[str], Outcome]) -> None:
        try:
            job = ActivityJob.from_message(job_message)
        except MalformedJob as exc:
            log.error("dropping a relay with a malformed job: %s", exc)
            return
        report_outcome(self.swf, job.task_token, outcome_for(job.type_label), job.log_context())
        if self._on_reported is not None:
            try:
                self._on_reported(job)
            except Exception:  # freeing a slot must never break a relay
                log.exception("after-report hook failed: %s", job.log_context())

    def relay_result(self, value: Any, job: Any, wire_format: Any, task: Any) -> None:
        fmt = _format(wire_format)
        self.report(job, lambda label: result_outcome(value, fmt, str(task), self._store))

    def relay_failure(self, request_or_id: Any, exc: Any, job: Any, task: Any) -> None:
        celery_id = (
            request_or_id if isinstance(request_or_id, str) else getattr(request_or_id, "id", None)
        )
        error = exc if isinstance(exc, BaseException) else None
        self.report(job, lambda label: failure_outcome(error, str(task), celery_id))

    def on_task_unknown(self, message: Any = None, name: Any = None, **_: Any) -> None:
        """Fail the activity at once when its mapped task is unknown to this worker."""
        relay = _our_errback(message)
        if relay is None:
            return
        task = str(name)
        job = relay.get("job")
        # Celery calls this in the worker's consumer thread: never make SWF calls
        # (with their retries) there, or every other job waits behind them.
        self._in_background(
            lambda: self.report(
                job,
                lambda label: bridge_failure(
                    BridgeCause.UNKNOWN_CELERY_TASK,
                    f"Celery task {task!r} (mapped from activity {label}) is not registered on "
                    "the worker that received it: check the task map and the worker's imports",
                ),
            ),
            job,
        )

    def _in_background(self, work: Callable[[], None], job: Any) -> None:
        try:
            self._backlog.get().put_nowait(work)
        except queue.Full:
            attempt = job.get("activity_id") if isinstance(job, dict) else None
            log.error(
                "too many unknown-task failures waiting to be reported; dropped "
                "one (activity %s): SWF will time it out",
                attempt,
            )

    def _start_backlog(self) -> queue.Queue[Callable[[], None]]:
        backlog: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=UNKNOWN_TASK_BACKLOG)
        threading.Thread(
            target=self._drain, args=(backlog,), daemon=True, name="swfbridge-unknown-task-reporter"
        ).start()
        return backlog

    @staticmethod
    def _drain(backlog: queue.Queue[Callable[[], None]]) -> None:
        while True:
            work = backlog.get()
            try:
                work()
            except Exception:  # one report failing must not stop the next
                log.exception("could not report an unknown Celery task's failure")


def _our_errback(message: Any) -> dict[str, Any] | None:
    """The relay kwargs carried by an unknown task's message, if swfbridge sent it."""
    try:
        body = message.decode() if message is not None else None
    except Exception:  # undecodable bodies are Celery's to report
        return None
    if not isinstance(body, (list, tuple)) or len(body) != 3 or not isinstance(body[2], dict):
        return None
    for errback in body[2].get("errbacks") or ():
        if isinstance(errback, dict) and errback.get("task") == RELAY_FAILURE_TASK:
            kwargs = errback.get("kwargs")
            if isinstance(kwargs, dict):
                return kwargs
    return None


def _format(name: Any) -> WireFormat:
    try:
        return wire_format_named(str(name))
    except ValueError:
        log.warning("relay names unknown wire format %r; using flowy", name)
        return FLOWY


def install_relays(
    app: Celery,
    *,
    swf: SwfClientConfig,
    payloads: OffloadConfig | None = None,
    on_reported: Callable[[ActivityJob], None] | None = None,
) -> None:
    """Register ``swfbridge.relay_result`` and ``swfbridge.relay_failure`` on ``app``,
    and the ``task_unknown`` handler that fails activities mapped to unknown tasks.

    Args:
        app: The Celery app whose workers run mapped tasks.
        swf: How the relays reach SWF.
        payloads: S3 offload for results over SWF's limit (None: off).
        on_reported: Called with the job once its outcome is reported (frees
            its capacity slot).
    """
    relay = _Relay(swf, payloads, on_reported)

    # Plain functions with explicit parameters: Celery calls an errback inline
    # (new style, with the exception) only when its signature takes more than
    # one positional argument; otherwise it sends it with the task id alone.
    def relay_result(
        value: Any = None, *, job: Any = None, wire_format: Any = None, task: Any = None
    ) -> None:
        relay.relay_result(value, job, wire_format, task)

    def relay_failure(
        request: Any = None,
        exc: Any = None,
        traceback: Any = None,
        *,
        job: Any = None,
        wire_format: Any = None,
        task: Any = None,
    ) -> None:
        relay.relay_failure(request, exc, job, task)

    app.task(name=RELAY_RESULT_TASK, **RELAY_TASK_OPTIONS)(  # type: ignore[no-untyped-call]
        relay_result
    )
    app.task(name=RELAY_FAILURE_TASK, **RELAY_TASK_OPTIONS)(  # type: ignore[no-untyped-call]
        relay_failure
    )
    task_unknown.connect(
        relay.on_task_unknown, weak=False, dispatch_uid=f"swfbridge.task_unknown.{id(app)}"
    )
