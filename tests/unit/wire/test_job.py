from __future__ import annotations

from typing import Any

import pytest

from swfbridge.wire.job import ActivityJob, MalformedJob, token_hint

POLL: dict[str, Any] = {
    "taskToken": "secret-token",
    "activityId": "a1",
    "startedEventId": 7,
    "workflowExecution": {"workflowId": "wf", "runId": "run"},
    "activityType": {"name": "Add", "version": "1"},
    "input": "[[1], {}]",
}


def _job(**overrides: Any) -> ActivityJob:
    job = ActivityJob.from_poll(
        POLL, domain="d", task_list="tl", polled_at=100.0, start_to_close_s=30, heartbeat_s=None
    )
    return job if not overrides else ActivityJob(**{**job.__dict__, **overrides})


def test_a_poll_response_becomes_a_job_with_its_deadline() -> None:
    job = _job()
    assert (job.activity_name, job.activity_version, job.activity_id) == ("Add", "1", "a1")
    assert job.deadline == 130.0


def test_a_job_survives_the_message_round_trip() -> None:
    job = _job()
    assert ActivityJob.from_message(job.to_message()) == job


def test_the_attempt_id_is_stable_and_differs_per_attempt() -> None:
    assert _job().attempt_id == _job().attempt_id
    assert _job().attempt_id != _job(started_event_id=8).attempt_id


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.pop("task_token"), "missing 'task_token'"),
        (lambda m: m.update(v=99), "unsupported job message version"),
        (lambda m: m.update(activity_id=""), "'activity_id' must be a non-empty string"),
        (lambda m: m.update(started_event_id="7"), "'started_event_id' must be an integer"),
        (lambda m: m.update(deadline=float("nan")), "'deadline' must be a number"),
        (lambda m: m.update(input=5), "'input' must be a string or null"),
        (lambda m: m.update(deadline=1e300), "'deadline' must be after 'polled_at'"),
        (lambda m: m.update(deadline=m["polled_at"] - 1), "'deadline' must be after"),
        (lambda m: m.update(polled_at=1e300, deadline=1e300), "'polled_at' is not a plausible"),
        (lambda m: m.update(heartbeat_timeout_s=1e300), "'heartbeat_timeout_s' must be"),
        (lambda m: m.update(heartbeat_timeout_s=-1), "'heartbeat_timeout_s' must be"),
    ],
)
def test_malformed_messages_are_refused_with_the_reason(mutate: Any, message: str) -> None:
    data = _job().to_message()
    mutate(data)
    with pytest.raises(MalformedJob, match=message):
        ActivityJob.from_message(data)


def test_a_non_object_message_is_refused() -> None:
    with pytest.raises(MalformedJob, match="JSON object"):
        ActivityJob.from_message(["not", "a", "job"])


def test_logs_never_carry_the_token_or_input() -> None:
    context = _job().log_context()
    assert "secret-token" not in context and "[[1]" not in context
    assert "secret-token" not in token_hint("secret-token")
