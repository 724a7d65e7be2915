"""The bridge on a RabbitMQ broker, with slots and claims in Redis."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from swfbridge.testing import LocalSWF, ScheduledActivity, run_activities
from tests.integration.activities import TASK_LIST
from tests.integration.conftest import ACTIVITIES_MODULE
from tests.support import processes


@pytest.mark.skipif(not processes.rabbitmq_up(), reason="no RabbitMQ on 127.0.0.1:5672")
def test_activities_run_through_rabbitmq_with_capacity_slots_in_redis(
    local_swf_server: LocalSWF,
    redis_url: str,
    tmp_path: Path,
) -> None:
    domain = f"it-amqp-{uuid.uuid4().hex[:8]}"
    queue = f"swfbridge-test-{uuid.uuid4().hex[:8]}"  # the RabbitMQ is shared
    env = processes.bridge_env(
        broker_url=processes.RABBITMQ_URL,
        swf_endpoint=local_swf_server.endpoint_url,
        activities=ACTIVITIES_MODULE,
    )
    env["SWFBRIDGE_STATE_URL"] = redis_url
    registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
    assert registered.returncode == 0, registered.stderr
    worker = processes.start_worker(env, tmp_path, extra=["-Q", queue])
    poller = processes.start_poller(
        env,
        tmp_path,
        domain=domain,
        task_list=TASK_LIST,
        extra=["--queue", queue, "--max-in-flight", "2", "--pollers", "2"],
    )
    try:
        outcomes = run_activities(
            local_swf_server.client(),
            domain=domain,
            task_list=TASK_LIST,
            timeout_s=60,
            activities=[
                ScheduledActivity(f"add-{i}", "Add", "1", input=json.dumps([[i, 1], {}]))
                for i in range(8)
            ],
        )
    finally:
        processes.stop_all(poller, worker)
    logs = poller.output() + worker.output()
    assert {k: (o.status, o.result) for k, o in outcomes.items()} == {
        f"add-{i}": ("completed", str(i + 1)) for i in range(8)
    }, logs
    assert "max_in_flight=2" in poller.output()
    assert "slot_waits=" in poller.output(), logs  # 8 tasks through 2 slots had to wait
