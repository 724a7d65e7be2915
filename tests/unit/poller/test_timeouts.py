"""Which timeouts a polled task gets: its scheduled event by default, else the registration."""

from __future__ import annotations

import logging

import pytest

from swfbridge import Activity, activity
from swfbridge.activities.registry import ActivityRegistry
from swfbridge.aws.swf import Throttled, UnknownResource
from swfbridge.poller.timeouts import (
    TaskTimeouts,
    TimeoutPolicy,
    TimeoutResolver,
    TimeoutSource,
    bridge_timeout,
)
from tests.support.fake_history import FakeHistory


def _resolver(
    history: FakeHistory,
    policy: TimeoutPolicy = TimeoutPolicy.HISTORY,
    registry: ActivityRegistry | None = None,
    attempts: int = 3,
) -> TimeoutResolver:
    return TimeoutResolver(
        registry=registry or ActivityRegistry(),
        swf=history.client(attempts=attempts),
        domain="d",
        policy=policy,
    )


def test_by_default_the_deciders_per_task_timeouts_win_over_the_registration() -> None:
    history = FakeHistory()
    registry = ActivityRegistry()

    @activity("1", name="Thing", registry=registry, start_to_close=300, heartbeat=None)
    class Thing(Activity):
        pass

    response = history.start(history.schedule("a", start_to_close="8", heartbeat="5"))

    timeouts = _resolver(history, registry=registry).for_task(response)

    assert timeouts == TaskTimeouts(8.0, 5.0, TimeoutSource.HISTORY)


def test_the_registration_policy_never_reads_the_history() -> None:
    history = FakeHistory()
    response = history.start(history.schedule("a", start_to_close="8", heartbeat="5"))

    timeouts = _resolver(history, TimeoutPolicy.REGISTRATION).for_task(response)

    assert timeouts == TaskTimeouts(300.0, None, TimeoutSource.TYPE_DEFAULTS)
    assert history.pages == 0


def test_an_unreadable_history_falls_back_to_the_registration_with_a_warning_and_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    history = FakeHistory()
    response = history.start(history.schedule("a", start_to_close="8"))
    history.failures = [
        UnknownResource("GetWorkflowExecutionHistory", "UnknownResourceFault", "gone")
    ]
    resolver = _resolver(history)

    with caplog.at_level(logging.WARNING, logger="swfbridge.poller.timeouts"):
        timeouts = resolver.for_task(response)

    assert timeouts == TaskTimeouts(300.0, None, TimeoutSource.TYPE_DEFAULTS)
    assert resolver.counts["timeouts_fallback"] == 1
    assert "workflow=wf activity=a type=Thing@1" in caplog.text
    assert "cannot read the run's history (UnknownResourceFault)" in caplog.text


def test_a_throttled_history_read_is_retried_and_still_gives_the_tasks_timeouts() -> None:
    history = FakeHistory()
    response = history.start(history.schedule("a", start_to_close="8"))
    history.failures = [Throttled("GetWorkflowExecutionHistory", "ThrottlingException", "")] * 2

    resolver = _resolver(history, attempts=5)

    assert resolver.for_task(response).source is TimeoutSource.HISTORY
    assert resolver.counts["timeouts_fallback"] == 0


def test_a_garbled_history_falls_back_instead_of_failing_the_task() -> None:
    history = FakeHistory()
    response = history.start(history.schedule("a"))
    history.events.append({"eventId": "not a number", "eventType": "Marker"})
    resolver = _resolver(history)
    assert resolver.for_task(response).source is TimeoutSource.TYPE_DEFAULTS
    assert resolver.counts["timeouts_fallback"] == 1


def test_placeholder_zero_timeouts_in_the_scheduled_event_set_no_deadline() -> None:
    history = FakeHistory()
    response = history.start(history.schedule("a", start_to_close="0", heartbeat="0"))
    assert _resolver(history).for_task(response) == TaskTimeouts(None, None, TimeoutSource.HISTORY)


def test_placeholder_zero_type_defaults_set_no_deadline() -> None:
    history = FakeHistory()
    history.described = {
        "configuration": {"defaultTaskStartToCloseTimeout": "0", "defaultTaskHeartbeatTimeout": "0"}
    }
    response = history.start(history.schedule("a"))
    timeouts = _resolver(history, TimeoutPolicy.REGISTRATION).for_task(response)
    assert timeouts == TaskTimeouts(None, None, TimeoutSource.TYPE_DEFAULTS)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5", 5.0),
        ("0.5", 0.5),
        ("NONE", None),
        (None, None),
        ("0", None),
        ("", None),
        ("-3", None),
        ("inf", None),
        ("nan", None),
        ("soon", None),
        (12, 12.0),
    ],
)
def test_an_swf_timeout_is_a_positive_number_of_seconds_or_no_limit(
    text: object, seconds: float | None
) -> None:
    assert bridge_timeout(text) == seconds
