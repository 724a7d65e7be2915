"""Heartbeats, progress, cancellation and deadlines across the Celery hop.

A real prefork worker and a real poller on the local SWF endpoint. SWF calls
are counted AT THE ENDPOINT: the test process hosts the local SWF, and
:class:`EndpointCalls` wraps its backend methods for the duration of a test.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swfbridge.testing import LocalSWF, ScheduledActivity, run_activities, start_activities
from tests.integration.heartbeat_activities import TASK_LIST
from tests.support import processes
from tests.support.endpoint_calls import RESPONDS, EndpointCalls

ACTIVITIES_MODULE = "tests.integration.heartbeat_activities"
CANCEL_GRACE_S = 1.0
DEADLINE_MARGIN_S = 1.0
HEARTBEAT_TIMEOUT_S = 2.0  # of the cancellation activities
HEARTBEAT_INTERVAL_S = 0.8 * HEARTBEAT_TIMEOUT_S


@dataclass
class HeartbeatBridge:
    swf: LocalSWF
    domain: str
    worker: processes.Process
    poller: processes.Process
    tmp: Path

    def client(self) -> Any:
        return self.swf.client()

    def logs(self) -> str:
        return f"--- worker\n{self.worker.output()}\n--- poller\n{self.poller.output()}"


@pytest.fixture(scope="module")
def hb(
    local_swf_server: LocalSWF, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HeartbeatBridge]:
    domain = f"hb-{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("heartbeats")
    env = processes.bridge_env(
        broker_url=redis_url,
        swf_endpoint=local_swf_server.endpoint_url,
        activities=ACTIVITIES_MODULE,
    )
    env.update(
        SWFBRIDGE_CANCEL_GRACE=str(CANCEL_GRACE_S), SWFBRIDGE_DEADLINE_MARGIN=str(DEADLINE_MARGIN_S)
    )
    registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    worker = processes.start_worker(env, tmp, name="hb-worker")
    poller = processes.start_poller(env, tmp, domain=domain, task_list=TASK_LIST, name="hb-poller")
    try:
        yield HeartbeatBridge(local_swf_server, domain, worker, poller, tmp)
    finally:
        processes.stop_all(poller, worker)


@pytest.fixture(scope="module")
def _module_endpoint(hb: HeartbeatBridge) -> Iterator[EndpointCalls]:
    # Module-wide, not per test: a long poll spans tests, and the token it
    # hands out must be known to whichever test then counts its heartbeats.
    calls = EndpointCalls()
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls.install(monkeypatch)
        yield calls


@pytest.fixture
def endpoint(hb: HeartbeatBridge, _module_endpoint: EndpointCalls) -> Iterator[EndpointCalls]:
    yield _module_endpoint
    hb.swf.clear_faults()


def _id(prefix: str) -> str:
    """Activity ids unique in the module, so endpoint counts are per test."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


TIGHT = _id("tight")
STALL = _id("stall")
STUBBORN = _id("stubborn")
OVERRUN = _id("overrun")
LATE = _id("late")
PROGRESS = _id("progress")
BLOCK_1 = _id("block-1")
BLOCK_2 = _id("block-2")
HISTORY = _id("history")


def _input(*args: Any) -> str:
    return json.dumps([list(args), {}])


def _history(client: Any, domain: str, workflow_id: str, run_id: str) -> list[dict[str, Any]]:
    return list(
        client.get_workflow_execution_history(
            domain=domain, execution={"workflowId": workflow_id, "runId": run_id}
        )["events"]
    )


def _event_time(events: list[dict[str, Any]], event_type: str) -> float:
    (event,) = [e for e in events if e["eventType"] == event_type]
    return float(event["eventTimestamp"].timestamp())


@pytest.mark.slow
def test_a_ten_second_activity_heartbeating_in_a_tight_loop_costs_swf_at_most_four_calls(
    hb: HeartbeatBridge,
    endpoint: EndpointCalls,
) -> None:
    outcomes = run_activities(
        hb.client(),
        domain=hb.domain,
        task_list=TASK_LIST,
        timeout_s=60,
        activities=[ScheduledActivity(TIGHT, "TightLoop", "1", input=_input(10))],
    )
    outcome = outcomes[TIGHT]
    assert outcome.status == "completed", (outcome, hb.logs())
    local_calls = int(outcome.result or "0")
    beats = endpoint.of(TIGHT, "record_activity_task_heartbeat")
    # Heartbeat timeout 5 s → one send per 4 s: at the start, 4 and 8 (one more
    # with scheduling slack); unpaced, there would be one per heartbeat() call.
    print(f"heartbeat calls seen by SWF: {len(beats)}; heartbeat() calls: {local_calls}")
    assert 3 <= len(beats) <= 4, beats
    assert local_calls > 1000  # the activity called heartbeat() thousands of times
    progress = [json.loads(d)["count"] for _, _, d in beats if d is not None]
    assert progress == sorted(progress) and progress[-1] > local_calls // 2


def test_progress_details_appear_on_the_timed_out_event_of_a_stalled_activity(
    hb: HeartbeatBridge,
    endpoint: EndpointCalls,
) -> None:
    outcomes = run_activities(
        hb.client(),
        domain=hb.domain,
        task_list=TASK_LIST,
        timeout_s=30,
        activities=[ScheduledActivity(STALL, "Stall", "1", input=_input(3, 5))],
    )
    outcome = outcomes[STALL]
    assert outcome.status == "timed_out" and outcome.timeout_type == "HEARTBEAT", outcome
    assert json.loads(outcome.details or "") == {"step": 3, "of": 3}


@pytest.mark.parametrize("activity_type", ["Cooperative", "SleepsThroughCancel"])
def test_a_requested_cancellation_ends_canceled_within_the_heartbeat_interval_and_grace(
    hb: HeartbeatBridge,
    endpoint: EndpointCalls,
    activity_type: str,
) -> None:
    client = hb.client()
    victim = _id(f"victim-{activity_type}")
    run = start_activities(
        client,
        domain=hb.domain,
        task_list=TASK_LIST,
        timeout_s=40,
        activities=[ScheduledActivity(victim, activity_type, "1", input=_input(30))],
    )
    # Running in the worker once its start-of-job heartbeat reached SWF.
    processes.wait_for(
        lambda: bool(endpoint.of(victim, "record_activity_task_heartbeat")),
        20,
        "the activity to start",
    )
    time.sleep(0.5)
    run.request_cancel(victim)
    outcomes = run.wait(45)
    outcome = outcomes[victim]
    assert outcome.status == "canceled", (outcome, hb.logs())
    events = _history(client, hb.domain, run.workflow_id, run.wait_started())
    took = _event_time(events, "ActivityTaskCanceled") - _event_time(
        events, "ActivityTaskCancelRequested"
    )
    budget = HEARTBEAT_INTERVAL_S + (CANCEL_GRACE_S if activity_type != "Cooperative" else 0)
    assert took < budget + 1.5, (took, budget)
    if activity_type == "Cooperative":
        assert "step" in json.loads(outcome.details or "")  # its last progress
    else:
        assert "interrupted" in (outcome.details or "")
    assert len(endpoint.of(victim, "respond_activity_task_canceled")) == 1


def test_an_activity_whose_task_timed_out_in_swf_is_stopped_and_does_not_respond(
    hb: HeartbeatBridge,
    endpoint: EndpointCalls,
) -> None:
    marker = hb.tmp / f"stubborn-{uuid.uuid4().hex[:6]}"
    # SWF closes the task by its schedule-to-close (3 s) while the attempt's own
    # bounds (start-to-close 60 s, heartbeats) are fine: only a heartbeat can tell.
    outcomes = run_activities(
        hb.client(),
        domain=hb.domain,
        task_list=TASK_LIST,
        timeout_s=30,
        activities=[
            ScheduledActivity(
                STUBBORN, "Stubborn", "1", schedule_to_close="3", input=_input(30, str(marker))
            )
        ],
    )
    outcome = outcomes[STUBBORN]
    assert outcome.status == "timed_out" and outcome.timeout_type == "SCHEDULE_TO_CLOSE"
    # Next heartbeat (≤ 1.6 s later) learns the task is gone; interrupted 1 s after.
    processes.wait_for(marker.exists, 10, "the activity to be stopped")
    assert marker.read_text() == "interrupted"
    time.sleep(0.5)
    assert endpoint.of(STUBBORN, *RESPONDS) == [], endpoint.calls
    assert "SWF no longer knows the task" in hb.worker.output()


def test_an_activity_reaching_its_deadline_is_failed_by_the_worker_before_swf_times_it_out(
    hb: HeartbeatBridge,
    endpoint: EndpointCalls,
) -> None:
    outcomes = run_activities(
        hb.client(),
        domain=hb.domain,
        task_list=TASK_LIST,
        timeout_s=30,
        activities=[ScheduledActivity(OVERRUN, "Overrun", "1", input=_input(30))],
    )
    outcome = outcomes[OVERRUN]
    assert outcome.status == "failed", (outcome, hb.logs())
    assert "start-to-close deadline" in (outcome.reason or "")
    details = json.loads(outcome.details or "")
    assert details["cause"] == "deadline_passed" and details["stage"] == "running"


def test_a_job_whose_deadline_passed_while_queued_never_runs(
    hb: HeartbeatBridge,
    endpoint: EndpointCalls,
) -> None:
    marker = hb.tmp / f"marker-{uuid.uuid4().hex[:6]}"
    # Two blockers fill the worker's two slots; Marker (start-to-close 2 s)
    # waits in the queue until after its deadline.
    outcomes = run_activities(
        hb.client(),
        domain=hb.domain,
        task_list=TASK_LIST,
        timeout_s=40,
        activities=[
            ScheduledActivity(BLOCK_1, "Block", "1", input=_input(5), priority=10),
            ScheduledActivity(BLOCK_2, "Block", "1", input=_input(5), priority=10),
            ScheduledActivity(LATE, "Marker", "1", input=_input(str(marker)), priority=0),
        ],
    )
    assert outcomes[BLOCK_1].status == outcomes[BLOCK_2].status == "completed"
    assert outcomes[LATE].status == "timed_out", outcomes[LATE]
    time.sleep(0.5)
    assert not marker.exists()
    assert endpoint.of(LATE, *RESPONDS, "record_activity_task_heartbeat") == []


def test_throttled_heartbeats_are_retried_and_never_crash_the_worker(
    hb: HeartbeatBridge,
    endpoint: EndpointCalls,
) -> None:
    hb.swf.inject_faults(operations=["RecordActivityTaskHeartbeat"], fraction=1.0, kind="throttle")
    before = hb.worker.output().count("heartbeat failed (ThrottlingException)")
    outcomes = run_activities(
        hb.client(),
        domain=hb.domain,
        task_list=TASK_LIST,
        timeout_s=30,
        activities=[ScheduledActivity(PROGRESS, "Progress", "1", input=_input(3))],
    )
    assert outcomes[PROGRESS].status == "completed", (outcomes, hb.logs())
    failed = hb.worker.output().count("heartbeat failed (ThrottlingException)") - before
    assert failed >= 2  # the start-of-job beat and at least one retry
    assert hb.worker.alive()


def test_a_poller_reading_timeouts_from_history_honours_a_deciders_per_task_override(
    hb: HeartbeatBridge,
    endpoint: EndpointCalls,
    redis_url: str,
) -> None:
    env = processes.bridge_env(
        broker_url=redis_url, swf_endpoint=hb.swf.endpoint_url, activities=ACTIVITIES_MODULE
    )
    poller = processes.start_poller(
        env,
        hb.tmp,
        domain=hb.domain,
        task_list="hb-history",
        name="hb-history-poller",
        extra=["--timeouts-from-history"],
    )
    try:
        # The type says 30 s; the decider says 3 s for this task. Only the
        # history knows, and the worker must end it before SWF's 3 s.
        outcomes = run_activities(
            hb.client(),
            domain=hb.domain,
            task_list="hb-history",
            timeout_s=30,
            activities=[
                ScheduledActivity(HISTORY, "Block", "1", start_to_close="3", input=_input(10))
            ],
        )
    finally:
        poller.stop()
    outcome = outcomes[HISTORY]
    assert outcome.status == "failed", (outcome, hb.logs())
    assert "(3s after the poll)" in (outcome.reason or "")
