"""Integration fixtures: a real redis-server, the local SWF endpoint over HTTP,
real ``celery -A swfbridge worker`` and ``swfbridge poll`` processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swfbridge.testing import LocalSWF
from tests.integration.activities import TASK_LIST
from tests.support import processes

ACTIVITIES_MODULE = "tests.integration.activities"


@dataclass
class Bridge:
    """A running bridge: endpoint, broker, worker and poller processes."""

    swf: LocalSWF
    domain: str
    task_list: str
    env: dict[str, str]
    log_dir: Path
    worker: processes.Process
    poller: processes.Process

    def client(self) -> Any:
        return self.swf.client()

    def logs(self) -> str:
        return f"--- worker\n{self.worker.output()}\n--- poller\n{self.poller.output()}"


@pytest.fixture(scope="module")
def bridge(
    local_swf_server: LocalSWF, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bridge]:
    """One worker and one poller for a test module, on a domain of its own."""
    domain = f"it-{uuid.uuid4().hex[:8]}"
    log_dir = tmp_path_factory.mktemp("bridge")
    env = processes.bridge_env(
        broker_url=redis_url,
        swf_endpoint=local_swf_server.endpoint_url,
        activities=ACTIVITIES_MODULE,
    )
    registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    worker = processes.start_worker(env, log_dir)
    poller = processes.start_poller(env, log_dir, domain=domain, task_list=TASK_LIST)
    try:
        yield Bridge(local_swf_server, domain, TASK_LIST, env, log_dir, worker, poller)
    finally:
        processes.stop_all(poller, worker)
