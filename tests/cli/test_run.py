"""``swfbridge run`` against the local SWF endpoint, when things are missing
(tests/docs runs it against a whole bridge)."""

from __future__ import annotations

import uuid

import pytest

from swfbridge.testing import LocalSWF
from tests.support import processes


@pytest.fixture
def env(local_swf_server: LocalSWF) -> dict[str, str]:
    return processes.bridge_env(
        broker_url="redis://127.0.0.1:1/0",
        swf_endpoint=local_swf_server.endpoint_url,
        activities="tests.cli.activities",
    )


@pytest.fixture
def domain(local_swf_server: LocalSWF) -> str:
    name = f"run-{uuid.uuid4().hex[:8]}"
    local_swf_server.client().register_domain(name=name, workflowExecutionRetentionPeriodInDays="1")
    return name


def test_run_on_a_missing_domain_names_the_command_that_creates_it(env: dict[str, str]) -> None:
    done = processes.run_cli(
        env, "run", "--domain", "no-such-domain", "--task-list", "t", "Greet@1.0"
    )

    assert done.returncode == 2
    assert done.stderr.strip() == (
        "swfbridge: error: SWF domain 'no-such-domain' does not "
        "exist: create it with 'swfbridge register --domain "
        "no-such-domain --create-domain'"
    )


def test_run_reports_an_unregistered_activity_type_at_once_with_a_hint(
    env: dict[str, str], domain: str
) -> None:
    done = processes.run_cli(
        env, "run", "--domain", domain, "--task-list", "t", "Nope@1", "[[], {}]", "--timeout", "60"
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Nope-1               not scheduled: ACTIVITY_TYPE_DOES_NOT_EXIST" in done.stdout
    assert "0/1 activities completed (not all completed)" in done.stdout
    assert f"hint: register the activity types: swfbridge register --domain {domain}" in done.stderr


def test_run_with_nobody_serving_the_task_list_gives_up_at_its_timeout_and_says_why(
    env: dict[str, str], domain: str, local_swf_server: LocalSWF
) -> None:
    local_swf_server.client().register_activity_type(
        domain=domain,
        name="Idle",
        version="1",
        defaultTaskList={"name": "idle"},
        defaultTaskStartToCloseTimeout="60",
        defaultTaskScheduleToStartTimeout="60",
        defaultTaskScheduleToCloseTimeout="120",
        defaultTaskHeartbeatTimeout="NONE",
    )

    done = processes.run_cli(
        env, "run", "--domain", domain, "--task-list", "idle", "Idle@1", "--timeout", "3"
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "not every activity closed within 3s (the workflow was terminated): is "
        f"'swfbridge poll --domain {domain} --task-list idle' running"
    ) in done.stderr
    executions = local_swf_server.client().list_closed_workflow_executions(
        domain=domain, startTimeFilter={"oldestDate": 0}
    )["executionInfos"]
    assert [e["closeStatus"] for e in executions] == ["TERMINATED"]
