"""The bridge's default wire format, and import-path functions, in the executor."""

from __future__ import annotations

import json
from typing import Any

from swfbridge import FLOWY, SIMPLEFLOW, Activity, ActivityRegistry, FunctionActivities, activity
from swfbridge.aws.swf import SwfClient
from swfbridge.wire.job import ActivityJob
from swfbridge.wire.outcome import Completed, Failed
from swfbridge.worker.executor import ActivityExecutor, declares_wire_format
from tests.support.jobs import make_job

registry = ActivityRegistry()


@activity("1", registry=registry)
class Plain(Activity):
    def run(self, a: int, b: int = 0) -> int:
        return a + b


@activity("1", registry=registry)
class PinnedFlowy(Activity):
    wire_format = FLOWY

    def run(self, a: int, b: int = 0) -> int:
        return a + b


class _Base(Activity):
    wire_format = FLOWY


@activity("1", registry=registry)
class InheritsFlowy(_Base):
    def run(self, a: int) -> int:
        return a


class _NoSwf:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected SWF call {name}")


def _job(name: str, text: str) -> ActivityJob:
    return make_job(task_list="l", activity_name=name, input=text)


def _executor(**kwargs: Any) -> ActivityExecutor:
    return ActivityExecutor(registry=registry, swf=SwfClient(client=_NoSwf()), **kwargs)


def test_a_class_that_sets_no_wire_format_uses_the_bridge_default() -> None:
    outcome = _executor(wire_format=SIMPLEFLOW).execute(
        _job("Plain", '{"args": [1], "kwargs": {"b": 2}}')
    )

    assert outcome == Completed("3")


def test_a_class_that_sets_its_wire_format_keeps_it_whatever_the_bridge_default() -> None:
    executor = _executor(wire_format=SIMPLEFLOW)

    assert executor.execute(_job("PinnedFlowy", '[[1], {"b": 2}]')) == Completed("3")
    assert executor.execute(_job("InheritsFlowy", "[[5], {}]")) == Completed("5")


def test_without_a_bridge_default_classes_read_flowys_format() -> None:
    assert _executor().execute(_job("Plain", "[[1, 2], {}]")) == Completed("3")


def test_declares_wire_format_looks_through_bases_but_not_activity_itself() -> None:
    assert not declares_wire_format(Plain)
    assert declares_wire_format(PinnedFlowy) and declares_wire_format(InheritsFlowy)


def test_an_unregistered_type_outside_the_allowed_prefixes_fails_with_a_clear_reason() -> None:
    executor = _executor(functions=FunctionActivities(["tests.migration.sf_allowed"]))

    outcome = executor.execute(_job("os.system", '{"args": ["true"]}'))

    assert isinstance(outcome, Failed) and outcome.details is not None
    assert "'os.system' is not registered and its import path is not allowed" in outcome.reason
    assert json.loads(outcome.details)["cause"] == "import_path_not_allowed"


def test_an_unregistered_name_that_is_not_a_path_stays_an_unknown_type() -> None:
    executor = _executor(functions=FunctionActivities(["tests.migration.sf_allowed"]))

    outcome = executor.execute(_job("Ghost", "[[], {}]"))

    assert isinstance(outcome, Failed) and "unknown activity type 'Ghost'" in outcome.reason
