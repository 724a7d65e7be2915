from __future__ import annotations

import json
from typing import Any

from swfbridge.activities.registry import ActivityRegistry
from swfbridge.poller.dispatch import PublishError
from swfbridge.poller.loop import Poller, PollerConfig
from swfbridge.poller.timeouts import TimeoutResolver
from swfbridge.wire.job import ActivityJob
from tests.support.fakes import FakeBoto, client_error, fake_swf

TASK: dict[str, Any] = {
    "taskToken": "tok",
    "activityId": "a1",
    "startedEventId": 3,
    "workflowExecution": {"workflowId": "wf", "runId": "run"},
    "activityType": {"name": "Add", "version": "1"},
    "input": "[[1], {}]",
}
DESCRIBED = {
    "configuration": {"defaultTaskStartToCloseTimeout": "30", "defaultTaskHeartbeatTimeout": "NONE"}
}


class RecordingDispatcher:
    def __init__(self, error: Exception | None = None) -> None:
        self.jobs: list[ActivityJob] = []
        self.error = error

    def publish(self, job: ActivityJob) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.append(job)


def _poller(boto: FakeBoto, dispatcher: RecordingDispatcher) -> Poller:
    swf = fake_swf(boto)
    return Poller(
        config=PollerConfig(domain="d", task_list="tl", identity="me"),
        swf=swf,
        dispatcher=dispatcher,
        timeouts=TimeoutResolver(registry=ActivityRegistry(), swf=swf, domain="d"),
        clock=lambda: 1000.0,
    )


def test_a_polled_task_is_dispatched_with_its_deadline_from_the_type_defaults() -> None:
    boto = FakeBoto(poll_for_activity_task=TASK, describe_activity_type=DESCRIBED)
    dispatcher = RecordingDispatcher()
    assert _poller(boto, dispatcher).poll_once() is True
    (job,) = dispatcher.jobs
    assert job.task_token == "tok" and job.deadline == 1030.0
    assert boto.ops("poll_for_activity_task")[0]["taskList"] == {"name": "tl"}


def test_type_defaults_are_described_once_and_cached() -> None:
    boto = FakeBoto(poll_for_activity_task=TASK, describe_activity_type=DESCRIBED)
    poller = _poller(boto, RecordingDispatcher())
    poller.poll_once()
    poller.poll_once()
    assert len(boto.ops("describe_activity_type")) == 1


def test_an_empty_poll_is_not_a_task() -> None:
    for empty in ({"taskToken": "", "startedEventId": 0}, {"startedEventId": 0}):
        dispatcher = RecordingDispatcher()
        poller = _poller(FakeBoto(poll_for_activity_task=empty), dispatcher)
        assert poller.poll_once() is False
        assert dispatcher.jobs == [] and poller.counts["empty_polls"] == 1


def test_a_task_that_cannot_be_enqueued_is_failed_at_once_with_the_cause() -> None:
    boto = FakeBoto(poll_for_activity_task=TASK, describe_activity_type=DESCRIBED)
    poller = _poller(boto, RecordingDispatcher(PublishError("ConnectionError: refused")))
    poller.poll_once()
    (failure,) = boto.ops("respond_activity_task_failed")
    assert failure["taskToken"] == "tok"
    assert failure["reason"].startswith("swfbridge: could not enqueue")
    assert json.loads(failure["details"])["cause"] == "enqueue_failed"
    assert poller.counts["failed_by_bridge"] == 1


def test_a_malformed_poll_response_fails_the_task_instead_of_crashing() -> None:
    broken = {"taskToken": "tok", "activityType": {"name": "Add", "version": "1"}}
    boto = FakeBoto(poll_for_activity_task=broken, describe_activity_type=DESCRIBED)
    _poller(boto, RecordingDispatcher()).poll_once()
    (failure,) = boto.ops("respond_activity_task_failed")
    assert "malformed" in failure["reason"]


def test_poll_errors_back_off_and_the_loop_keeps_polling() -> None:
    answers: list[Any] = [client_error("ThrottlingException"), client_error("X", 500)]
    dispatcher = RecordingDispatcher()

    def poll(**_: Any) -> Any:
        return answers.pop(0) if answers else {"taskToken": ""}

    poller = _poller(FakeBoto(poll_for_activity_task=poll), dispatcher)
    object.__setattr__(
        poller.config, "error_backoff", type(poller.config.error_backoff)(base_s=0.001, cap_s=0.002)
    )
    poller.start()
    try:
        import time

        deadline = time.monotonic() + 5
        while poller.counts.get("empty_polls", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        poller.stop()
        poller.join(5)
    assert poller.counts["poll_errors"] == 2
    assert poller.counts["empty_polls"] >= 1
