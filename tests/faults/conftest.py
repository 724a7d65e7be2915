"""Fault suite fixtures: recorder Redis, a restartable broker, one SWF domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from swfbridge.testing import LocalSWF
from tests.faults.harness import ROWS, RestartableRedis, table
from tests.support import processes

ACTIVITIES_MODULE = "tests.faults.activities"


@pytest.fixture(scope="session")
def recorder_url() -> Iterator[str]:
    with processes.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def recorder(recorder_url: str) -> Any:
    return redis.Redis.from_url(recorder_url)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableRedis]:
    server = RestartableRedis(tmp_path_factory.mktemp("broker"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def faults_env(
    local_swf_server: LocalSWF, broker: RestartableRedis, recorder_url: str
) -> dict[str, str]:
    env = processes.bridge_env(
        broker_url=broker.url,
        swf_endpoint=local_swf_server.endpoint_url,
        activities=ACTIVITIES_MODULE,
    )
    env["SWFBRIDGE_FAULTS_REDIS"] = recorder_url
    return env


@pytest.fixture(scope="module")
def domain(faults_env: dict[str, str]) -> str:
    name = f"faults-{uuid.uuid4().hex[:8]}"
    done = processes.run_cli(faults_env, "register", "--domain", name, "--create-domain")
    assert done.returncode == 0, done.stdout + done.stderr
    return name


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def ctx(
    local_swf_server: LocalSWF,
    domain: str,
    faults_env: dict[str, str],
    log_dir: Path,
    recorder: Any,
    broker: RestartableRedis,
) -> dict[str, Any]:
    """The keyword arguments of the scenario runners (``**ctx``)."""
    return {
        "swf": local_swf_server,
        "domain": domain,
        "env": faults_env,
        "log_dir": log_dir,
        "recorder": recorder,
        "broker": broker,
    }


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ROWS:
        terminalreporter.write_sep("=", "fault-injection results")
        terminalreporter.write_line(table(ROWS))
