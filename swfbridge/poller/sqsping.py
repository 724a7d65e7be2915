"""The poller's broker check on SQS.

A kombu connection to SQS holds no socket to test: ``ensure_connection``
succeeds with SQS unreachable. One GetQueueAttributes on the queue the
poller publishes to shows that SQS answers, that the credentials are good and
that the queue exists (kombu creates it when missing, as a publish would).
"""

from __future__ import annotations

from typing import Any


def is_sqs_connection(connection: Any) -> bool:
    """True if ``connection`` (a kombu Connection) uses the SQS transport."""
    return getattr(getattr(connection, "transport", None), "driver_type", None) == "sqs"


def ping_sqs(channel: Any, queue: str) -> None:
    """Raise unless SQS answers for ``queue`` through ``channel``'s own client."""
    channel.queue_declare(queue=queue, passive=True)
