"""A user's own Celery app joined to the bridge: real redis-server, the local
SWF endpoint, ``celery -A tests.migration.userapp worker`` and ``swfbridge poll``
with a task map."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swfbridge.testing import LocalSWF, register_activity_type
from tests.migration.flowy_activities import TASK_LIST
from tests.support import processes

QUEUE = "migration"
TASK_MAP = str(Path(__file__).with_name("task_map.json"))
# Types the old runtimes registered long ago: mapped Celery tasks and
# simpleflow functions (named by import path).
LEGACY_TYPES = (
    "Resize",
    "Thumb",
    "Explode",
    "Tags",
    "Missing",
    "DescribeJson",
    "tests.migration.sf_allowed.multiply",
    "tests.migration.sf_allowed.shout",
    "tests.migration.sf_allowed.path_join",
    "tests.migration.sf_forbidden.touch",
)


@dataclass
class UserFleet:
    swf: LocalSWF
    domain: str
    task_list: str
    marker_dir: Path
    worker: processes.Process
    poller: processes.Process

    def client(self) -> Any:
        return self.swf.client()

    def logs(self) -> str:
        return f"--- worker\n{self.worker.output()}\n--- poller\n{self.poller.output()}"


@pytest.fixture(scope="module")
def user_fleet(
    local_swf_server: LocalSWF, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UserFleet]:
    domain = f"mig-{uuid.uuid4().hex[:8]}"
    log_dir = tmp_path_factory.mktemp("migration")
    marker_dir = tmp_path_factory.mktemp("markers")
    env = processes.bridge_env(
        broker_url=redis_url,
        swf_endpoint=local_swf_server.endpoint_url,
        activities="tests.migration.flowy_activities",
    )
    env["SWFBRIDGE_TEST_MARKER_DIR"] = str(marker_dir)
    registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    client = local_swf_server.client()
    for name in LEGACY_TYPES:
        register_activity_type(
            client,
            domain=domain,
            name=name,
            version="1",
            task_list=TASK_LIST,
            start_to_close="60",
            schedule_to_start="120",
        )
    worker = processes.start_worker(
        env, log_dir, app="tests.migration.userapp", extra=["-Q", QUEUE]
    )
    poller = processes.start_poller(
        env,
        log_dir,
        domain=domain,
        task_list=TASK_LIST,
        # A capacity limit: mapped tasks end in relays, which
        # must free their slots or the fleet stalls.
        extra=["--queue", QUEUE, "--task-map", TASK_MAP, "--max-in-flight", "2"],
    )
    try:
        yield UserFleet(local_swf_server, domain, TASK_LIST, marker_dir, worker, poller)
    finally:
        processes.stop_all(poller, worker)
