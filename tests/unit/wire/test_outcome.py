from __future__ import annotations

import json

from swfbridge.errors import ActivityCancelled, ActivityFailed
from swfbridge.wire.limits import MAX_DETAILS, MAX_REASON, MAX_RESULT, TRUNCATION_MARKER
from swfbridge.wire.outcome import (
    Abandoned,
    BridgeCause,
    Canceled,
    Completed,
    Failed,
    bridge_failure,
    canceled_from_exception,
    failure_from_exception,
    response_for,
)


def _raise(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_completed_maps_to_respond_completed_with_the_result() -> None:
    response = response_for(Completed('{"a":1}'), "tok")
    assert response is not None
    assert response.operation == "respond_activity_task_completed"
    assert response.params == {"taskToken": "tok", "result": '{"a":1}'}


def test_failed_maps_to_respond_failed_with_reason_and_details() -> None:
    response = response_for(Failed("why", "details"), "tok")
    assert response is not None
    assert response.operation == "respond_activity_task_failed"
    assert response.params == {"taskToken": "tok", "reason": "why", "details": "details"}


def test_canceled_maps_to_respond_canceled_and_abandoned_to_nothing() -> None:
    response = response_for(Canceled("bye"), "tok")
    assert response is not None and response.operation == "respond_activity_task_canceled"
    assert response_for(Abandoned("closed"), "tok") is None


def test_every_field_is_cut_to_swf_limits_with_a_marker() -> None:
    failed = response_for(Failed("r" * 1000, "d" * 40_000), "tok")
    completed = response_for(Completed("x" * 40_000), "tok")
    assert failed is not None and completed is not None
    assert len(failed.params["reason"]) == MAX_REASON
    assert failed.params["reason"].endswith(TRUNCATION_MARKER)
    assert len(failed.params["details"]) == MAX_DETAILS
    assert len(completed.params["result"]) == MAX_RESULT


def test_activity_failed_keeps_its_reason_and_encodes_details_as_json() -> None:
    failure = failure_from_exception(ActivityFailed("no stock", details={"sku": 3}))
    assert failure == Failed("no stock", '{"sku":3}')
    assert failure_from_exception(ActivityFailed("plain", details="text")).details == "text"


def test_other_exceptions_give_type_and_message_and_simpleflow_details() -> None:
    failure = failure_from_exception(_raise(KeyError("missing")))
    assert failure.reason == "KeyError: 'missing'"
    assert failure.details is not None
    details = json.loads(failure.details)
    assert details["error"] == "KeyError"
    assert details["error_type"] == "KeyError"
    assert details["message"] == "'missing'"
    assert "Traceback (most recent call last)" in details["traceback"]


def test_exception_types_outside_builtins_are_qualified_with_their_module() -> None:
    class Custom(Exception):
        pass

    details = json.loads(failure_from_exception(_raise(Custom("m"))).details or "")
    assert details["error_type"].endswith("Custom")
    assert details["error_type"].startswith(__name__)


def test_huge_tracebacks_keep_details_valid_json_within_the_limit() -> None:
    def recurse(n: int) -> None:
        if n == 0:
            raise RuntimeError("deep\n" * 8000)
        recurse(n - 1)

    failure = failure_from_exception(_raise_from(recurse, 300))
    assert failure.details is not None
    assert len(failure.details) <= MAX_DETAILS
    details = json.loads(failure.details)
    assert details["traceback"].startswith(TRUNCATION_MARKER)
    assert details["message"].startswith("deep\ndeep")
    assert details["error"] == "RuntimeError"


def _raise_from(fn: object, arg: int) -> BaseException:
    try:
        fn(arg)  # type: ignore[operator]
    except BaseException as caught:
        return caught
    raise AssertionError("did not raise")


def test_an_exception_with_a_broken_str_still_fails_the_task() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert failure_from_exception(_raise(Broken())).reason == "Broken: <unprintable Broken>"


def test_bridge_failures_say_swfbridge_and_carry_a_cause() -> None:
    failure = bridge_failure(BridgeCause.ENQUEUE_FAILED, "broker down")
    assert failure.reason == "swfbridge: broker down"
    assert json.loads(failure.details or "")["cause"] == "enqueue_failed"


def test_cancellation_details_are_encoded_like_failure_details() -> None:
    assert canceled_from_exception(ActivityCancelled({"step": 2})) == Canceled('{"step":2}')
    assert canceled_from_exception(ActivityCancelled()) == Canceled(None)


def test_outcome_labels_tell_bridge_failures_from_activity_failures() -> None:
    from swfbridge.wire.outcome import outcome_label

    assert outcome_label(Completed("1")) == "completed"
    assert outcome_label(Failed("ValueError: x")) == "failed"
    assert outcome_label(bridge_failure(BridgeCause.ENQUEUE_FAILED, "down")) == "failed_by_bridge"
    assert outcome_label(Canceled()) == "canceled"
    assert outcome_label(Abandoned("closed")) == "abandoned"
