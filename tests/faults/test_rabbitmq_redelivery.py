"""RabbitMQ redelivers a dead consumer's unacknowledged jobs at once (Redis
waits for its visibility timeout): the attempt's claim is what keeps a job
that had started from running a second time."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis

from swfbridge.testing import LocalSWF, ScheduledActivity, start_activities
from tests.faults.activities import RUNS_KEY, TASK_LIST
from tests.support import processes


@pytest.mark.slow
@pytest.mark.skipif(not processes.rabbitmq_up(), reason="no RabbitMQ on 127.0.0.1:5672")
def test_a_job_redelivered_by_rabbitmq_after_its_worker_died_is_not_run_twice(
    local_swf_server: LocalSWF,
    redis_url: str,
    tmp_path: Path,
) -> None:
    domain = f"faults-amqp-{uuid.uuid4().hex[:8]}"
    queue = f"swfbridge-test-{uuid.uuid4().hex[:8]}"  # the RabbitMQ is shared
    env = processes.bridge_env(
        broker_url=processes.RABBITMQ_URL,
        swf_endpoint=local_swf_server.endpoint_url,
        activities="tests.faults.activities",
    )
    env["SWFBRIDGE_STATE_URL"] = redis_url
    env["SWFBRIDGE_FAULTS_REDIS"] = redis_url
    recorder = redis.Redis.from_url(redis_url)
    victim = f"victim-{uuid.uuid4().hex[:6]}"
    quick = [f"quick-{uuid.uuid4().hex[:6]}-{i}" for i in range(6)]
    assert processes.run_cli(env, "register", "--domain", domain, "--create-domain").returncode == 0
    worker = processes.start_worker(env, tmp_path, name="amqp-worker", extra=["-Q", queue])
    poller = processes.start_poller(
        env,
        tmp_path,
        domain=domain,
        task_list=TASK_LIST,
        extra=["--queue", queue, "--max-in-flight", "4"],
    )
    replacement = None
    try:
        run = start_activities(
            local_swf_server.client(),
            domain=domain,
            task_list=TASK_LIST,
            timeout_s=60,
            activities=[
                ScheduledActivity(victim, "Work", "1", input=json.dumps([[victim, 8.0], {}]))
            ]
            + [
                ScheduledActivity(key, "Work", "1", input=json.dumps([[key, 0.1], {}]))
                for key in quick
            ],
        )
        processes.wait_for(
            lambda: recorder.get(f"faults:pid:{victim}") is not None, 30, "victim running"
        )
        worker.kill()  # SIGKILL to the main process and its pool: the channel closes
        replacement = processes.start_worker(
            env, tmp_path, name="amqp-replacement", extra=["-Q", queue]
        )
        outcomes = run.wait(90)
    finally:
        processes.stop_all(poller, replacement)
    runs = Counter(k.decode() for k in recorder.lrange(RUNS_KEY, 0, -1))
    logs = (replacement.output() if replacement else "") + poller.output()
    assert runs[victim] == 1, logs
    assert outcomes[victim].status == "timed_out", (outcomes[victim], logs)
    assert outcomes[victim].timeout_type == "START_TO_CLOSE"
    assert "duplicate delivery dropped" in logs  # RabbitMQ did redeliver it at once
    assert all(runs[k] <= 1 for k in quick), runs  # nothing ran twice
    # The other pool process was busy with a quick job when the worker died:
    # that attempt was claimed, so its redelivery is dropped too and SWF times it
    # out. Every other quick job completes (the unstarted ones on the replacement).
    lost = [k for k in quick if outcomes[k].status != "completed"]
    assert len(lost) <= 1, outcomes
    assert all(outcomes[k].timeout_type == "START_TO_CLOSE" for k in lost), outcomes
