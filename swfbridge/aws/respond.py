"""Reporting an outcome to SWF: the one code path for every respond call."""

from __future__ import annotations

import logging

from swfbridge.aws.retry import Backoff
from swfbridge.aws.swf import InvalidRequest, SwfClient, SwfError, UnknownResource
from swfbridge.wire.outcome import Abandoned, Failed, Outcome, outcome_label, response_for

log = logging.getLogger(__name__)

# An answer SWF never gets is a finished attempt lost (SWF times it out later),
# so responses get more tries than other calls: under sustained throttling of
# 30%, six tries lost about one answer in 1,400; ten lose one in 170,000. The
# pacing is the client's (0.1 s doubling to 20 s, jittered): at most ~45 s.
RESPOND_BACKOFF = Backoff(max_attempts=10)


def report_outcome(swf: SwfClient, task_token: str, outcome: Outcome, context: str) -> bool:
    """Send ``outcome`` for the task. Returns True if SWF took it (or already had it closed).

    ``UnknownResourceFault`` means the task is already closed: logged, never
    retried. Throttling and 5xx are retried by the client, bounded. If SWF
    rejects the response as invalid, a minimal failure is sent instead so the
    task does not stay open until it times out.
    """
    response = response_for(outcome, task_token)
    if response is None:
        why = outcome.why if isinstance(outcome, Abandoned) else "nothing to send"
        log.warning("not responding (%s): %s", why, context)
        return True
    log.info("%s: %s", describe(outcome), context)
    try:
        swf.call(response.operation, backoff=RESPOND_BACKOFF, **response.params)
        return True
    except UnknownResource:
        log.info("task already closed in SWF, response dropped: %s", context)
        return True
    except InvalidRequest as exc:
        log.error("SWF rejected the response (%s): %s", exc, context)
        minimal = response.operation == "respond_activity_task_failed" and (
            "details" not in response.params
        )
        if minimal:  # already as small as a failure gets
            return False
        try:
            swf.call(
                "respond_activity_task_failed",
                backoff=RESPOND_BACKOFF,
                taskToken=task_token,
                reason=f"swfbridge: SWF rejected the response: {exc.code}"[:256],
            )
            return True
        except SwfError as again:
            log.error("could not report the fallback failure (%s): %s", again, context)
            return False
    except SwfError as exc:
        log.error("could not report the outcome to SWF (%s): %s", exc, context)
        return False


def describe(outcome: Outcome) -> str:
    """A short label for logs: :func:`~swfbridge.wire.outcome.outcome_label`'s, a
    failure's with the head of its reason."""
    if isinstance(outcome, Failed):
        return f"failed ({outcome.reason[:120]})"
    return outcome_label(outcome)
