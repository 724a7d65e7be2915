"""The attempt hooks: every step of an attempt reaches them as data, and a
hook that fails never fails the attempt."""

from __future__ import annotations

import json
from typing import Any

import pytest
from celery import Celery

from swfbridge import Activity, ActivityRegistry, activity, install
from swfbridge.per_process import PerProcess
from swfbridge.wire.outcome import Completed, Outcome
from swfbridge.worker.executor import ActivityExecutor
from swfbridge.worker.hooks import Attempt, AttemptHooks, HookChain, add_attempt_hooks
from tests.support.fakes import FakeBoto, fake_swf
from tests.support.jobs import make_job

registry = ActivityRegistry()


@activity("1", registry=registry)
class Triple(Activity):
    def run(self, x: int) -> int:
        return 3 * x


class Recording(AttemptHooks):
    def __init__(self) -> None:
        self.steps: list[tuple[str, Any]] = []

    def started(self, attempt: Attempt) -> None:
        self.steps.append(("started", attempt.task_id))

    def outcome_decided(self, attempt: Attempt, outcome: Outcome) -> None:
        self.steps.append(("outcome_decided", outcome))

    def ended(self, attempt: Attempt, ending: str) -> None:
        self.steps.append(("ended", (attempt.type_label, ending)))


class Broken(AttemptHooks):
    def started(self, attempt: Attempt) -> None:
        raise RuntimeError("hook bug")


def _job(name: str) -> dict[str, Any]:
    return make_job(
        task_token="token",
        activity_id="a1",
        activity_name=name,
        started_event_id=3,
        input=json.dumps([[14], {}]),
        polled_at=1000.0,
    ).to_message()


@pytest.fixture
def app_with() -> tuple[Any, Recording, FakeBoto]:
    app = Celery("hooks-test", set_as_current=False)
    app.conf.update(task_always_eager=True, broker_url="memory://")
    task: Any = install(app, registry=registry)
    boto = FakeBoto()
    # This process's executor, with a fake SWF (install builds a real client otherwise).
    task._executor = PerProcess(lambda: ActivityExecutor(registry=registry, swf=fake_swf(boto)))
    recording = Recording()
    add_attempt_hooks(app, Broken())
    add_attempt_hooks(app, recording)
    return task, recording, boto


def test_an_attempt_reaches_the_hooks_step_by_step_as_data(
    app_with: tuple[Any, Recording, FakeBoto],
) -> None:
    task, recording, boto = app_with

    result = task.apply(args=[_job("Triple")], task_id="attempt-1").get()

    assert result.startswith("completed: ")
    assert recording.steps == [
        ("started", "attempt-1"),
        ("outcome_decided", Completed("42")),
        ("ended", ("Triple@1", "completed")),
    ]
    assert boto.ops("respond_activity_task_completed")


def test_an_unknown_type_and_a_malformed_job_end_under_safe_labels(
    app_with: tuple[Any, Recording, FakeBoto],
) -> None:
    task, recording, _ = app_with

    task.apply(args=[_job("Made-up")], task_id="attempt-2").get()
    task.apply(args=[{"not": "a job"}], task_id="attempt-3").get()

    endings = [data for step, data in recording.steps if step == "ended"]
    assert endings == [("unknown", "failed_by_bridge"), ("malformed", "malformed")]


def test_a_failing_hook_is_logged_and_the_next_hook_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recording = Recording()
    chain = HookChain([Broken(), recording])

    chain.started(Attempt(task_id="t1"))

    assert recording.steps == [("started", "t1")]
    assert "attempt hook Broken.started failed" in caplog.text
