"""A throw-away :class:`~swfbridge.wire.job.ActivityJob` for tests."""

from __future__ import annotations

from swfbridge.wire.job import ActivityJob


def make_job(
    *,
    task_token: str = "t",
    domain: str = "d",
    task_list: str = "tl",
    activity_id: str = "a",
    activity_name: str = "A",
    activity_version: str = "1",
    workflow_id: str = "w",
    run_id: str = "r",
    started_event_id: int = 1,
    input: str | None = None,
    polled_at: float = 0.0,
    deadline: float | None = None,
    heartbeat_timeout_s: float | None = None,
) -> ActivityJob:
    """An activity job with placeholder ids; pass only what the test is about.

    The defaults are fixed, so two calls with the same arguments are the same
    attempt (same ``attempt_id``): give ``started_event_id`` or ``workflow_id``
    a fresh value where attempts must differ. ``polled_at`` is 0 (the epoch)
    and there is no deadline unless given.
    """
    return ActivityJob(
        task_token=task_token,
        domain=domain,
        task_list=task_list,
        activity_id=activity_id,
        activity_name=activity_name,
        activity_version=activity_version,
        workflow_id=workflow_id,
        run_id=run_id,
        started_event_id=started_event_id,
        input=input,
        polled_at=polled_at,
        deadline=deadline,
        heartbeat_timeout_s=heartbeat_timeout_s,
    )
