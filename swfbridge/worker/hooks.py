"""The one seam for an attempt's life on a worker: :class:`AttemptHooks`.

``run_activity`` calls the hooks at each step of an attempt, with what it
knows as data (the job, the outcome, how the attempt ended), so an extra
such as metrics, tracing or logging context never parses log lines, reasons
or return values. Subclass :class:`AttemptHooks`, override what you need and
add an instance with :func:`add_attempt_hooks`. Every method is a no-op by
default; a hook that raises is logged and skipped, never failing the attempt
(in the style of dramatiq's ``Middleware``).

The order for one attempt, all in the pool process that runs it:

1. :meth:`~AttemptHooks.started` once the message is received;
2. :meth:`~AttemptHooks.outcome_decided` once the activity's outcome is
   known (not for a malformed job or a duplicate delivery);
3. :meth:`~AttemptHooks.slot_freed` once its capacity slot is given back,
   after the outcome was reported (only for an attempt that holds a slot: a
   poller limits capacity with ``--max-in-flight``);
4. :meth:`~AttemptHooks.ended` last, with how it ended (also when it was
   dropped, or when swfbridge itself failed: ``worker_error``).

A mapped Celery task's attempt (see :mod:`swfbridge.worker.relays`) only
reaches :meth:`~AttemptHooks.slot_freed`, from the relay that reports it.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from celery import Celery

from swfbridge.wire.job import ActivityJob
from swfbridge.wire.outcome import Outcome

log = logging.getLogger(__name__)

ENDINGS: dict[str, str] = {
    "completed": "SWF got RespondActivityTaskCompleted",
    "failed": "SWF got RespondActivityTaskFailed (the activity raised)",
    "failed_by_bridge": "SWF got RespondActivityTaskFailed (reason 'swfbridge: ...')",
    "canceled": "SWF got RespondActivityTaskCanceled",
    "abandoned": "nothing sent: SWF had already closed the task",
    "duplicate": "nothing sent: another delivery of this attempt already ran",
    "malformed": "job refused (its task failed in SWF if the job had a token)",
    "report_failed": "SWF got nothing (every report failed): SWF will time the task out",
    "worker_error": "swfbridge failed while running the job (see the traceback)",
}
"""How an attempt can end on a worker, and what SWF got then."""

UNKNOWN_TYPE_LABEL = "unknown"
"""The type label of every attempt whose activity type this worker does not run."""

MALFORMED_TYPE_LABEL = "malformed"
"""The type label of a message that is not a valid job."""


@dataclass
class Attempt:
    """One attempt as the hooks see it.

    Attributes:
        task_id: The Celery task id (the attempt id), None outside a worker.
        job: The job, None while it is not decoded (or malformed).
        type_label: ``name@version`` of a type this worker runs, else
            ``"unknown"`` or ``"malformed"``: never a name taken from an
            unvalidated message, so it is safe as a metrics label.
    """

    task_id: str | None
    job: ActivityJob | None = None
    type_label: str = MALFORMED_TYPE_LABEL


class AttemptHooks:
    """Extension points of an attempt's life on a worker. Every method is a no-op."""

    def started(self, attempt: Attempt) -> None:
        """The worker received the attempt's message (not decoded yet)."""

    def outcome_decided(self, attempt: Attempt, outcome: Outcome) -> None:
        """The activity ran (or could not): ``outcome`` is what SWF will be told."""

    def ended(self, attempt: Attempt, ending: str) -> None:
        """The attempt is over: ``ending`` is a key of :data:`ENDINGS`."""

    def slot_freed(self, attempt: Attempt) -> None:
        """The attempt's capacity slot was given back (only if it held one)."""


class HookChain(AttemptHooks):
    """Calls every hook in turn; one that raises is logged and the next still runs."""

    def __init__(self, hooks: list[AttemptHooks] | None = None) -> None:
        self.hooks: list[AttemptHooks] = hooks if hooks is not None else []

    def started(self, attempt: Attempt) -> None:
        self._each("started", attempt)

    def outcome_decided(self, attempt: Attempt, outcome: Outcome) -> None:
        self._each("outcome_decided", attempt, outcome)

    def ended(self, attempt: Attempt, ending: str) -> None:
        self._each("ended", attempt, ending)

    def slot_freed(self, attempt: Attempt) -> None:
        self._each("slot_freed", attempt)

    def _each(self, step: str, *args: Any) -> None:
        for hook in list(self.hooks):
            try:
                getattr(hook, step)(*args)
            except Exception:  # a hook must never fail an attempt
                log.exception("attempt hook %s.%s failed", type(hook).__name__, step)


_CHAINS: weakref.WeakKeyDictionary[Celery, HookChain] = weakref.WeakKeyDictionary()


def attempt_hooks(app: Celery) -> HookChain:
    """The hooks of ``app``'s attempts (an empty chain if none were added)."""
    chain = _CHAINS.get(app)
    if chain is None:
        chain = _CHAINS[app] = HookChain()
    return chain


def add_attempt_hooks(app: Celery, hooks: AttemptHooks) -> None:
    """Call ``hooks`` at every step of the attempts ``app``'s workers run.

    Call it where the app is defined, so every worker process has it.

    Args:
        app: The Celery app that runs swfbridge jobs.
        hooks: The hooks, called after those added before them.
    """
    attempt_hooks(app).hooks.append(hooks)
