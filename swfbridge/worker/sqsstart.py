"""What a worker on an SQS broker checks at start (see :mod:`swfbridge.sqs`)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from swfbridge.activities.registry import ActivityRegistry
from swfbridge.sqs import NEEDS_STATE, is_sqs, sqs_warnings
from swfbridge.state.store import StateConfig, state_url
from swfbridge.worker.brokercheck import longest_start_to_close_s

log = logging.getLogger(__name__)


def sqs_start_check(app: Celery, registry: ActivityRegistry, state: StateConfig | None) -> Any:
    """A worker_init handler: exit without a state store, warn about visibility.

    Without claims, a message SQS hands out again (visibility timeout, or its
    at-least-once delivery) runs the attempt a second time, so the worker
    refuses to start rather than run so.
    """

    def handler(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app or not is_sqs(app.conf.broker_url):
            return
        if state is None and state_url(None, app.conf.broker_url) is None:
            raise SystemExit(f"swfbridge: error: {NEEDS_STATE}")
        for warning in sqs_warnings(
            app.conf,
            longest_start_to_close_s=longest_start_to_close_s(registry),
            has_unbounded_activity=any(e.options.start_to_close_s is None for e in registry),
        ):
            log.warning("unsafe broker setting: %s", warning)

    return handler
