"""Timeouts a decider sets per task, honoured by a poller with its DEFAULT options.

Deciders override the type's timeouts per ScheduleActivityTask (boto3
deciders per task; simpleflow sends all four on every schedule and registers
its types with placeholder "0" defaults). Only the task's
ActivityTaskScheduled event holds what SWF applies, so the bridge must take
the job's heartbeat pace and deadline from there, not from the registration.

A real prefork worker and a real ``swfbridge poll`` WITHOUT any timeouts
flag, on the local SWF endpoint; SWF calls are counted at the endpoint.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swfbridge.testing import (
    LocalSWF,
    ScheduledActivity,
    register_activity_type,
    run_activities,
    start_activities,
)
from tests.integration import timeout_simpleflow
from tests.integration.timeout_activities import TASK_LIST
from tests.support import processes
from tests.support.endpoint_calls import EndpointCalls

ACTIVITIES_MODULE = "tests.integration.timeout_activities"
FUNCTIONS_MODULE = "tests.integration.timeout_functions"
SIMPLEFLOW_MODULE = "tests.integration.timeout_simpleflow"
CANCEL_GRACE_S = 1.0
DEADLINE_MARGIN_S = 1.0
# Every type in these tests is registered without the timeout under test;
# the decider sets it on the task.
PER_TASK_HEARTBEAT_S = 5
BEAT_FOR_S = 8  # past the 5 s heartbeat timeout: without the 4 s pace it times out


@dataclass
class TimeoutsBridge:
    swf: LocalSWF
    domain: str
    env: dict[str, str]
    worker: processes.Process
    poller: processes.Process
    tmp: Path

    def client(self) -> Any:
        return self.swf.client()

    def logs(self) -> str:
        return f"--- worker\n{self.worker.output()}\n--- poller\n{self.poller.output()}"


@pytest.fixture(scope="module")
def bridge(
    local_swf_server: LocalSWF, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TimeoutsBridge]:
    domain = f"to-{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("task-timeouts")
    env = processes.bridge_env(
        broker_url=redis_url,
        swf_endpoint=local_swf_server.endpoint_url,
        activities=ACTIVITIES_MODULE,
    )
    env.update(
        SWFBRIDGE_CANCEL_GRACE=str(CANCEL_GRACE_S),
        SWFBRIDGE_DEADLINE_MARGIN=str(DEADLINE_MARGIN_S),
        SWFBRIDGE_FUNCTION_PREFIXES=f"{FUNCTIONS_MODULE},{SIMPLEFLOW_MODULE}",
    )
    registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    # Room for a test's leftovers: a task SWF timed out may still run in the worker.
    worker = processes.start_worker(env, tmp, name="to-worker", concurrency=4)
    pollers = []
    try:
        for task_list in (TASK_LIST, timeout_simpleflow.ACTIVITY_TASK_LIST):
            # The poller's default options: no timeouts flag.
            pollers.append(
                processes.start_poller(
                    env, tmp, domain=domain, task_list=task_list, name=f"to-poller-{task_list}"
                )
            )
        yield TimeoutsBridge(local_swf_server, domain, env, worker, pollers[0], tmp)
    finally:
        processes.stop_all(*pollers, worker)


@pytest.fixture(scope="module")
def endpoint(bridge: TimeoutsBridge) -> Iterator[EndpointCalls]:
    # Module-wide: a long poll spans tests, and the token it hands out must be
    # known to whichever test then counts its calls.
    calls = EndpointCalls()
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls.install(monkeypatch)
        yield calls


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _input(*args: Any) -> str:
    return json.dumps([list(args), {}])


def test_a_task_heartbeating_for_longer_than_its_per_task_heartbeat_timeout_completes(
    bridge: TimeoutsBridge,
    endpoint: EndpointCalls,
) -> None:
    beater = _id("beater")
    # The type's heartbeat timeout is NONE; the decider sets 5 s on this task.
    outcomes = run_activities(
        bridge.client(),
        domain=bridge.domain,
        task_list=TASK_LIST,
        timeout_s=60,
        activities=[
            ScheduledActivity(
                beater,
                "BeatsForAWhile",
                "1",
                heartbeat_timeout=str(PER_TASK_HEARTBEAT_S),
                input=_input(BEAT_FOR_S),
            )
        ],
    )
    outcome = outcomes[beater]
    assert outcome.status == "completed", (outcome, bridge.logs())
    beats = endpoint.of(beater, "record_activity_task_heartbeat")
    print(f"heartbeat calls seen by SWF: {len(beats)}; heartbeat() calls: {outcome.result}")
    # Paced from the task's 5 s (one send per 4 s), neither once (it would
    # have timed out) nor once per heartbeat() call.
    assert 2 <= len(beats) <= 6, beats
    assert int(outcome.result or "0") > len(beats)  # the activity's calls were coalesced


@pytest.mark.parametrize("activity_type", ["CooperativeUntilCancelled", "SleepsUntilCancelled"])
def test_a_task_with_a_per_task_heartbeat_timeout_ends_canceled_when_cancellation_is_requested(
    bridge: TimeoutsBridge,
    endpoint: EndpointCalls,
    activity_type: str,
) -> None:
    victim = _id(f"victim-{activity_type}")
    started = bridge.tmp / f"{victim}.started"
    # The type's heartbeat timeout is NONE; the decider sets 4 s. SWF tells the
    # worker about the cancellation only in a heartbeat answer.
    run = start_activities(
        bridge.client(),
        domain=bridge.domain,
        task_list=TASK_LIST,
        timeout_s=60,
        activities=[
            ScheduledActivity(
                victim, activity_type, "1", heartbeat_timeout="4", input=_input(20, str(started))
            )
        ],
    )
    # Running, and its first heartbeat answered (without a cancellation in it).
    processes.wait_for(
        lambda: started.exists() and bool(endpoint.of(victim, "record_activity_task_heartbeat")),
        30,
        "the activity to start and heartbeat",
    )
    run.request_cancel(victim)
    outcome = run.wait(70)[victim]
    assert outcome.status == "canceled", (outcome, bridge.logs())


def test_a_function_whose_type_has_placeholder_zero_defaults_completes_with_per_task_timeouts(
    bridge: TimeoutsBridge,
) -> None:
    client = bridge.client()
    name = f"{FUNCTIONS_MODULE}.add"
    # As simpleflow registers its types: "0" for every default timeout.
    register_activity_type(
        client,
        domain=bridge.domain,
        name=name,
        version="1",
        heartbeat_timeout="0",
        schedule_to_start="0",
        schedule_to_close="0",
        start_to_close="0",
    )
    adder = _id("adder")
    outcomes = run_activities(
        client,
        domain=bridge.domain,
        task_list=TASK_LIST,
        timeout_s=60,
        activities=[
            ScheduledActivity(
                adder,
                name,
                "1",
                start_to_close="60",
                schedule_to_start="120",
                schedule_to_close="180",
                heartbeat_timeout="30",
                input=json.dumps({"args": [2, 3], "kwargs": {}}),
            )
        ],
    )
    outcome = outcomes[adder]
    assert outcome.status == "completed", (outcome, bridge.logs())
    assert json.loads(outcome.result or "null") == 5


def test_a_per_task_start_to_close_shorter_than_the_types_is_enforced_by_the_bridge(
    bridge: TimeoutsBridge,
) -> None:
    sleeper = _id("sleeper")
    # The type says 300 s; the decider says 6 s. The worker must end the
    # activity before SWF's 6 s, not at 300 s.
    outcomes = run_activities(
        bridge.client(),
        domain=bridge.domain,
        task_list=TASK_LIST,
        timeout_s=60,
        activities=[
            ScheduledActivity(
                sleeper, "SleepsPastItsDeadline", "1", start_to_close="6", input=_input(20)
            )
        ],
    )
    outcome = outcomes[sleeper]
    assert outcome.status == "failed", (outcome, bridge.logs())
    assert json.loads(outcome.details or "{}").get("cause") == "deadline_passed", outcome


def test_a_simpleflow_workflow_decided_by_simpleflow_completes_through_the_bridge(
    bridge: TimeoutsBridge,
) -> None:
    workflow = f"{SIMPLEFLOW_MODULE}.ThreeSteps"
    decider = processes.spawn(
        "to-simpleflow-decider",
        [
            *_simpleflow(),
            "decider.start",
            "--domain",
            bridge.domain,
            "--task-list",
            timeout_simpleflow.DECISION_TASK_LIST,
            "--nb-processes",
            "1",
            workflow,
        ],
        bridge.env,
        bridge.tmp,
    )
    try:
        started = subprocess.run(
            [
                *_simpleflow(),
                "workflow.start",
                "--domain",
                bridge.domain,
                "--task-list",
                timeout_simpleflow.DECISION_TASK_LIST,
                "--workflow-id",
                _id("three-steps"),
                "--execution-timeout",
                "300",
                "--decision-tasks-timeout",
                "60",
                "--input",
                json.dumps({"args": [20], "kwargs": {}}),
                workflow,
            ],
            env=bridge.env,
            cwd=processes.REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        workflow_id, run_id = started.stdout.split()[-2:]
        execution = {"workflowId": workflow_id, "runId": run_id}
        client = bridge.client()

        def closed() -> bool:
            info = client.describe_workflow_execution(domain=bridge.domain, execution=execution)[
                "executionInfo"
            ]
            return bool(info["executionStatus"] == "CLOSED")

        processes.wait_for(closed, 90, "the simpleflow workflow execution to close")
    finally:
        decider.stop()
    events = client.get_workflow_execution_history(
        domain=bridge.domain, execution=execution, reverseOrder=True
    )["events"]
    last = events[0]
    assert last["eventType"] == "WorkflowExecutionCompleted", (
        last,
        decider.output(),
        bridge.logs(),
    )
    result = last["workflowExecutionCompletedEventAttributes"]["result"]
    assert json.loads(result) == "result: 41"


def _simpleflow() -> list[str]:
    return [sys.executable, "-m", "simpleflow"]
