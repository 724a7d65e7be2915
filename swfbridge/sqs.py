"""Amazon SQS as the Celery broker: the rules the bridge must respect, in one place.

Pure functions, used by the poller's command line and the worker's start-up
checks. What they encode (kombu 5.7's SQS transport; see docs/deploying.rst):

* Queue names: kombu turns ``.`` into ``-`` and other punctuation into ``_``;
  SQS then accepts only ASCII letters, digits, ``-`` and ``_``, 80 at most.
  ``.fifo`` queues are refused: a FIFO queue delivers a group's messages one
  at a time, so one long activity would hold back every job behind it.
* Visibility: a received message comes back after the queue's visibility
  timeout (kombu creates queues with 1800 s) whether or not its job still
  runs. The attempt's claim in the Redis state store drops such a copy, so
  SQS fleets need that store; without it the copy runs a second time.
* Expiry: SQS does not enforce a message's ``expires``; the Celery worker does
  on receipt, and the bridge's worker refuses a job too late to start.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

SCHEMES = ("sqs",)
"""Broker URL schemes of kombu's SQS transport."""

DEFAULT_VISIBILITY_TIMEOUT_S = 1800.0
"""The visibility timeout kombu gives the SQS queues it creates."""

MAX_QUEUE_NAME_LENGTH = 80

NEEDS_STATE = (
    "an SQS broker needs the Redis state store for attempt claims (SQS delivers a message "
    "again after its visibility timeout, and at least once in general: without a claim the "
    "attempt runs twice): set SWFBRIDGE_STATE_URL to a Redis URL (swfbridge poll: or "
    "--state-url)"
)

# kombu's SQS channel: '.' becomes '-', other punctuation but '-' and '_' becomes '_'.
_KOMBU_TABLE = {ord(c): "_" for c in string.punctuation if c not in "-_."}
_KOMBU_TABLE[ord(".")] = "-"
_VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


def is_sqs(broker_url: Any) -> bool:
    """True if ``broker_url`` names kombu's SQS transport."""
    if not isinstance(broker_url, str) or "://" not in broker_url:
        return False
    return broker_url.split("://", 1)[0].lower() in SCHEMES


def sqs_queue_name(queue: str, *, prefix: str = "") -> str:
    """The SQS queue name kombu uses for the Celery queue ``queue``."""
    return (prefix + queue).translate(_KOMBU_TABLE)


def queue_name_problem(queue: str, *, prefix: str = "") -> str | None:
    """Why SQS would refuse the queue kombu makes of ``queue`` (None: it is fine)."""
    if queue.endswith(".fifo"):
        return (
            f"queue {queue!r} is a FIFO queue: FIFO queues hand out a group's jobs one at a "
            f"time, so one long activity holds back the others; use a standard queue"
        )
    name = sqs_queue_name(queue, prefix=prefix)
    if not _VALID_NAME.fullmatch(name):
        return (
            f"queue {queue!r} becomes the SQS queue name {name!r}, which SQS refuses: at most "
            f"{MAX_QUEUE_NAME_LENGTH} ASCII letters, digits, '-' and '_' (kombu turns '.' into "
            f"'-' and other punctuation into '_'); choose a shorter or plainer --queue"
        )
    return None


def visibility_timeout_s(conf: Mapping[str, Any]) -> float:
    """The visibility timeout kombu gives the queues it creates, from the app's settings."""
    options = conf.get("broker_transport_options") or {}
    value = options.get("visibility_timeout")
    return DEFAULT_VISIBILITY_TIMEOUT_S if value in (None, "") else float(value)


def sqs_warnings(
    conf: Mapping[str, Any],
    *,
    longest_start_to_close_s: float | None,
    has_unbounded_activity: bool = False,
) -> list[str]:
    """Start-up warnings for a worker on SQS (empty for another broker).

    Args:
        conf: The Celery app's settings (``app.conf``).
        longest_start_to_close_s: The longest start-to-close of the activities
            this worker runs, in seconds (None if none has one).
        has_unbounded_activity: Some activity has no start-to-close timeout.

    Returns:
        One human-readable line per setting to look at.
    """
    if not is_sqs(conf.get("broker_url")):
        return []
    visibility = visibility_timeout_s(conf)
    longest = longest_start_to_close_s
    warnings: list[str] = []
    if has_unbounded_activity or (longest is not None and longest > visibility):
        shown = "unbounded" if has_unbounded_activity else f"{longest:.0f}s"
        warnings.append(
            f"the longest start-to-close timeout ({shown}) exceeds the SQS visibility timeout "
            f"({visibility:.0f}s): SQS hands a long job's message out again while it runs; "
            f"the attempt's claim drops the copy, but set the queue's VisibilityTimeout (and "
            f"broker_transport_options={{'visibility_timeout': ...}}) above the longest "
            f"start-to-close"
        )
    return warnings
