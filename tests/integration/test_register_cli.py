"""``swfbridge register`` against the local SWF endpoint, through the CLI."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from swfbridge.testing import LocalSWF, register_activity_type
from tests.support import processes

MODULE = "tests.migration.flowy_activities"  # CsvSum, LegacyAdd, SimpleflowAdd (version 1)


@pytest.fixture
def env(local_swf_server: LocalSWF) -> dict[str, str]:
    return processes.bridge_env(
        broker_url="redis://127.0.0.1:1/0",
        swf_endpoint=local_swf_server.endpoint_url,
        activities=MODULE,
    )


@pytest.fixture
def domain(local_swf_server: LocalSWF) -> str:
    name = f"reg-{uuid.uuid4().hex[:8]}"
    local_swf_server.client().register_domain(name=name, workflowExecutionRetentionPeriodInDays="1")
    return name


def _register(env: dict[str, str], domain: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return processes.run_cli(env, "register", "--domain", domain, *flags)


def _registered_types(swf: LocalSWF, domain: str) -> set[str]:
    page = swf.client().list_activity_types(domain=domain, registrationStatus="REGISTERED")
    return {
        f"{t['activityType']['name']} {t['activityType']['version']}" for t in page["typeInfos"]
    }


def test_a_dry_run_shows_what_would_be_registered_and_changes_nothing(
    env: dict[str, str], domain: str, local_swf_server: LocalSWF
) -> None:
    done = _register(env, domain, "--dry-run")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "CsvSum 1: not registered yet, would be registered",
        "LegacyAdd 1: not registered yet, would be registered",
        "SimpleflowAdd 1: not registered yet, would be registered",
        "3 types: 3 would be registered (dry run: nothing changed)",
    ]
    assert _registered_types(local_swf_server, domain) == set()


def test_registering_reports_what_it_registered_and_a_later_dry_run_finds_it_unchanged(
    env: dict[str, str], domain: str, local_swf_server: LocalSWF
) -> None:
    first = _register(env, domain)
    again = _register(env, domain, "--dry-run")

    assert first.returncode == 0, first.stderr
    assert "LegacyAdd 1: registered now" in first.stdout
    assert first.stdout.splitlines()[-1] == "3 types: 3 registered now"
    assert _registered_types(local_swf_server, domain) == {
        "CsvSum 1",
        "LegacyAdd 1",
        "SimpleflowAdd 1",
    }
    assert again.returncode == 0, again.stderr
    assert "LegacyAdd 1: already registered, same defaults" in again.stdout
    assert again.stdout.splitlines()[-1] == "3 types: 3 unchanged (dry run: nothing changed)"


def test_a_type_registered_with_other_defaults_is_reported_as_differing_with_exit_1(
    env: dict[str, str], domain: str, local_swf_server: LocalSWF
) -> None:
    register_activity_type(
        local_swf_server.client(),
        domain=domain,
        name="LegacyAdd",
        version="1",
        task_list="migration-tasks",
        start_to_close="30",
        schedule_to_start="120",
        heartbeat_timeout="NONE",
        schedule_to_close="NONE",
    )

    dry = _register(env, domain, "--dry-run")
    real = _register(env, domain)

    assert dry.returncode == 1
    assert (
        "LegacyAdd 1: registered with different defaults (defaultTaskStartToCloseTimeout: "
        "registered '30', code says '60')"
    ) in dry.stdout
    assert dry.stdout.splitlines()[-1] == (
        "3 types: 2 would be registered, 1 differ (dry run: nothing changed)"
    )
    assert real.returncode == 1
    assert real.stdout.splitlines()[-1] == "3 types: 2 registered now, 1 differ"


def test_a_deprecated_type_is_reported_and_fails_the_command(
    env: dict[str, str], domain: str, local_swf_server: LocalSWF
) -> None:
    assert _register(env, domain).returncode == 0
    local_swf_server.client().deprecate_activity_type(
        domain=domain, activityType={"name": "CsvSum", "version": "1"}
    )

    dry = _register(env, domain, "--dry-run")

    assert dry.returncode == 1
    assert "CsvSum 1: deprecated in SWF" in dry.stdout


def test_a_dry_run_on_a_missing_domain_says_whether_it_would_be_created(
    env: dict[str, str], local_swf_server: LocalSWF
) -> None:
    missing = f"reg-missing-{uuid.uuid4().hex[:8]}"

    refused = _register(env, missing, "--dry-run")
    planned = _register(env, missing, "--dry-run", "--create-domain")

    assert refused.returncode == 2
    assert f"domain {missing!r} does not exist (add --create-domain" in refused.stderr
    assert planned.returncode == 0, planned.stderr
    assert (
        planned.stdout.splitlines()[0] == f"domain {missing}: does not exist, would be registered"
    )
    names = [
        d["name"]
        for d in local_swf_server.client().list_domains(registrationStatus="REGISTERED")[
            "domainInfos"
        ]
    ]
    assert missing not in names


def _workflow_types(swf: LocalSWF, domain: str) -> set[str]:
    page = swf.client().list_workflow_types(domain=domain, registrationStatus="REGISTERED")
    return {
        f"{t['workflowType']['name']} {t['workflowType']['version']}" for t in page["typeInfos"]
    }


def test_workflow_types_are_planned_registered_once_and_then_found(
    env: dict[str, str], domain: str, local_swf_server: LocalSWF
) -> None:
    dry = _register(env, domain, "--workflow-type", "orders@1", "--dry-run")
    first = _register(env, domain, "--workflow-type", "orders@1")
    again = _register(env, domain, "--workflow-type", "orders@1")

    assert (
        dry.stdout.splitlines()[0] == "workflow type orders 1: not registered yet, would "
        "be registered"
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "workflow type orders 1: registered now"
    assert again.stdout.splitlines()[0] == "workflow type orders 1: already registered"
    assert _workflow_types(local_swf_server, domain) == {"orders 1"}
    described = local_swf_server.client().describe_workflow_type(
        domain=domain, workflowType={"name": "orders", "version": "1"}
    )["configuration"]
    assert described["defaultTaskStartToCloseTimeout"] == "30"
    assert described["defaultChildPolicy"] == "TERMINATE"


def test_workflow_types_alone_need_no_activities_module(
    env: dict[str, str], domain: str, local_swf_server: LocalSWF
) -> None:
    without_modules = {k: v for k, v in env.items() if k != "SWFBRIDGE_ACTIVITIES"}

    done = _register(without_modules, domain, "--workflow-type", "billing@2")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["workflow type billing 2: registered now"]


def test_a_workflow_type_that_is_not_name_at_version_is_refused_in_one_line(
    env: dict[str, str], domain: str
) -> None:
    done = _register(env, domain, "--workflow-type", "orders")

    assert done.returncode == 2
    assert done.stderr.strip() == (
        "swfbridge: error: --workflow-type 'orders' must be NAME@VERSION"
    )
