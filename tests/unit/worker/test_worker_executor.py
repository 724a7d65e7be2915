"""ActivityExecutor's mapping from what happened to an outcome (no SWF, no Celery)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from swfbridge import Activity, ActivityFailed, ActivityRegistry, activity
from swfbridge.wire.job import ActivityJob
from swfbridge.wire.outcome import Abandoned, Completed, Failed
from swfbridge.worker.executor import ActivityExecutor
from tests.support.fakes import FakeBoto, client_error, fake_swf
from tests.support.jobs import make_job

registry = ActivityRegistry()


@activity("1", registry=registry)
class Double(Activity):
    def run(self, x: int) -> int:
        return 2 * x


@activity("1", registry=registry)
class Custom(Activity):
    """flowy's hooks, overridden."""

    def _deserialize_arguments(self, input: str) -> tuple[list[Any], dict[str, Any]]:
        return [int(input)], {}

    def _serialize_result(self, value: Any) -> str:
        return f"<{value}>"

    def run(self, x: int) -> int:
        return x + 1


@activity("1", registry=registry)
class Fail(Activity):
    def run(self) -> None:
        raise ActivityFailed("nope")


@activity("1", registry=registry)
class BrokenInit(Activity):
    def __init__(self) -> None:
        raise RuntimeError("constructor")


@activity("1", registry=registry)
class Beats(Activity):
    def run(self) -> bool:
        return self.heartbeat({"pct": 50})


def _job(name: str, input: str | None, *, deadline: float | None = None) -> ActivityJob:
    return make_job(task_list="l", activity_name=name, input=input, deadline=deadline)


def _executor(boto: FakeBoto | None = None) -> ActivityExecutor:
    return ActivityExecutor(
        registry=registry, swf=fake_swf(boto or FakeBoto()), clock=lambda: 1000.0
    )


def test_a_result_is_encoded_as_json() -> None:
    assert _executor().execute(_job("Double", "[[21], {}]")) == Completed("42")


def test_overridden_flowy_hooks_are_used_for_input_and_result() -> None:
    assert _executor().execute(_job("Custom", "41")) == Completed("<42>")


def test_activity_failed_gives_its_reason() -> None:
    outcome = _executor().execute(_job("Fail", None))
    assert isinstance(outcome, Failed) and outcome.reason == "nope"


def test_an_exception_in_the_constructor_fails_the_task() -> None:
    outcome = _executor().execute(_job("BrokenInit", None))
    assert isinstance(outcome, Failed) and outcome.reason == "RuntimeError: constructor"


def test_an_unknown_version_names_the_versions_this_fleet_runs() -> None:
    job = dataclasses.replace(_job("Double", None), activity_version="9")
    outcome = _executor().execute(job)
    assert isinstance(outcome, Failed)
    assert "unknown activity type 'Double' version '9'" in outcome.reason
    assert (
        "this fleet runs versions 1" in (outcome.details or outcome.reason)
        or "1" in (json.loads(outcome.details or "{}")["message"])
    )


def test_a_job_past_its_deadline_is_not_started() -> None:
    outcome = _executor().execute(_job("Double", "[[1], {}]", deadline=1000.5))
    assert isinstance(outcome, Failed) and "not started" in outcome.reason


def test_heartbeat_returns_true_while_swf_wants_the_result() -> None:
    boto = FakeBoto(record_activity_task_heartbeat={"cancelRequested": False})
    assert _executor(boto).execute(_job("Beats", None)) == Completed("true")


def test_a_task_closed_in_swf_while_running_is_abandoned_without_response() -> None:
    boto = FakeBoto(record_activity_task_heartbeat=client_error("UnknownResourceFault"))
    executor = _executor(boto)

    @activity("1", registry=registry)
    class WaitsForBeat(Activity):
        def run(self) -> bool:
            import time

            self.heartbeat("x")
            for _ in range(200):
                if not self.heartbeat("x"):
                    return False
                time.sleep(0.01)
            return True

    outcome = executor.execute(_job("WaitsForBeat", None))
    assert isinstance(outcome, Abandoned)
    executor.report(_job("WaitsForBeat", None), outcome)
    assert not boto.ops("respond_activity_task_completed")


def test_reporting_a_closed_task_is_a_no_op_not_an_error() -> None:
    boto = FakeBoto(respond_activity_task_completed=client_error("UnknownResourceFault"))
    assert _executor(boto).report(_job("Double", None), Completed("1")) is True
    assert len(boto.ops("respond_activity_task_completed")) == 1


def test_a_rejected_response_falls_back_to_a_minimal_failure() -> None:
    boto = FakeBoto(respond_activity_task_completed=client_error("ValidationException"))
    assert _executor(boto).report(_job("Double", None), Completed("1")) is True
    (failure,) = boto.ops("respond_activity_task_failed")
    assert failure["reason"].startswith("swfbridge: SWF rejected the response")


@activity("1", registry=registry)
class Options(Activity):
    def run(self, x: int, **options: Any) -> int:
        return x


def _cause(outcome: Any) -> str:
    assert isinstance(outcome, Failed) and outcome.details is not None
    return str(json.loads(outcome.details)["cause"])


def test_a_self_keyword_is_an_input_signature_mismatch() -> None:
    for name in ("Double", "Options"):
        outcome = _executor().execute(_job(name, '[[1], {"self": 2}]'))
        assert _cause(outcome) == "input_signature_mismatch", name
