"""Putting a poller together: the one place that wires its parts.

``swfbridge poll``, the local demo bridge and the poller benchmark all build
their pollers here, so they run the same parts in the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import Celery

from swfbridge.activities.registry import ActivityRegistry, default_registry
from swfbridge.activities.task_map import CeleryTaskMap
from swfbridge.aws.swf import SwfClient
from swfbridge.poller.dispatch import CeleryDispatcher, Dispatcher
from swfbridge.poller.loop import Poller, PollerConfig
from swfbridge.poller.timeouts import TimeoutPolicy, TimeoutResolver
from swfbridge.state.store import BridgeState


def celery_dispatcher(
    broker_url: str,
    *,
    queue: str | None = None,
    task_map: CeleryTaskMap | None = None,
    app_name: str = "swfbridge-poller",
    broker_settings: Mapping[str, Any] | None = None,
) -> CeleryDispatcher:
    """A dispatcher publishing to ``broker_url`` through a publish-only Celery app.

    Args:
        broker_url: The Celery broker.
        queue: Queue to publish to (None: the app's default queue).
        task_map: Activity types run by existing Celery tasks.
        app_name: The Celery app's name (shows in the broker's client list).
        broker_settings: Extra Celery settings (e.g. transport options).
    """
    app = Celery(app_name, broker=broker_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        **dict(broker_settings or {}),
    )
    return CeleryDispatcher(app=app, queue=queue, task_map=task_map)


def build_poller(
    *,
    config: PollerConfig,
    swf: SwfClient,
    dispatcher: Dispatcher,
    registry: ActivityRegistry | None = None,
    timeouts_from: TimeoutPolicy = TimeoutPolicy.HISTORY,
    state: BridgeState | None = None,
) -> Poller:
    """A poller for ``config``'s task list, not started.

    Args:
        config: Domain, task list, identity, threads and capacity.
        swf: The SWF client the poller and its timeout lookups share.
        dispatcher: Where jobs go (usually :func:`celery_dispatcher`'s).
        registry: Registered types, for their registered timeouts (the
            default registry if None).
        timeouts_from: Where each task's timeouts come from.
        state: Slots and queued-job keepalive (needed with ``max_in_flight``).

    Raises:
        ConfigurationError: ``max_in_flight`` without ``state``.
    """
    return Poller(
        config=config,
        swf=swf,
        dispatcher=dispatcher,
        timeouts=TimeoutResolver(
            registry=registry if registry is not None else default_registry,
            swf=swf,
            domain=config.domain,
            policy=timeouts_from,
        ),
        state=state,
    )
