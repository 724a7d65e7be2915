"""Publishing an existing Celery task as an SWF activity (poller side).

The poller decodes the SWF input in the route's wire format into the task's
own args and kwargs, and adds the relay callbacks that report its outcome
(``link`` → ``swfbridge.relay_result``, ``link_error`` →
``swfbridge.relay_failure``; the worker side is :mod:`swfbridge.worker.relays`).
Only names cross between the two: the poller imports no relay or S3 code.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from swfbridge.activities.task_map import ResolvedRoute
from swfbridge.errors import TaskRefused
from swfbridge.wire.job import RELAY_FAILURE_TASK, RELAY_RESULT_TASK, ActivityJob
from swfbridge.wire.outcome import BridgeCause, bridge_failure
from swfbridge.wire.serialization import InputDecodeError


class JobRejected(TaskRefused):
    """The poller cannot publish this job; ``failure`` says why, for SWF."""


@dataclasses.dataclass(frozen=True)
class Publication:
    """One ``send_task`` call for a mapped activity task."""

    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]


def mapped_publication(job: ActivityJob, route: ResolvedRoute, *, queue: str | None) -> Publication:
    """The Celery job that runs ``job`` as the mapped task, with the relay callbacks.

    Args:
        job: The polled attempt.
        route: Where the type is mapped.
        queue: The dispatcher's queue, used when the route names none.

    Raises:
        JobRejected: The input cannot be decoded in the route's wire format.
    """
    try:
        args, kwargs = route.wire_format.decode_input(job.input)
    except InputDecodeError as exc:
        raise JobRejected(
            bridge_failure(
                BridgeCause.INPUT_UNDECODABLE,
                f"input could not be decoded ({route.wire_format.name} format) for Celery "
                f"task {route.task!r}: {exc}",
            )
        ) from exc
    target_queue = route.queue or queue
    relay_kwargs = {
        # The relays need the token and ids, not the (possibly large) input.
        "job": dataclasses.replace(job, input=None).to_message(),
        "wire_format": route.wire_format.name,
        "task": route.task,
    }
    relay_options: dict[str, Any] = {"serializer": "json", "compression": "zlib"}
    if target_queue is not None:
        # The success relay is a new message: keep it on a queue the workers
        # running the mapped task consume.
        relay_options["queue"] = target_queue
    options: dict[str, Any] = {
        "link": _signature(RELAY_RESULT_TASK, relay_kwargs, relay_options),
        "link_error": _signature(RELAY_FAILURE_TASK, relay_kwargs, relay_options),
    }
    if target_queue is not None:
        options["queue"] = target_queue
    return Publication(task=route.task, args=list(args), kwargs=dict(kwargs), options=options)


def _signature(name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    # The dict form of a Celery signature: what send_task serialises anyway.
    return {
        "task": name,
        "args": [],
        "kwargs": kwargs,
        "options": dict(options),
        "subtask_type": None,
        "immutable": False,
    }
