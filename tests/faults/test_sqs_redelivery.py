"""SQS hands a message out again once its visibility timeout passes, whether
its job still runs or its worker died: the attempt's claim in Redis is what
keeps a job that had started from running a second time, and a dead worker's
unstarted jobs run elsewhere."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from swfbridge.testing import LocalSWF, ScheduledActivity, start_activities
from tests.faults.activities import RUNS_KEY, TASK_LIST
from tests.support import processes, sqs

VISIBILITY_TIMEOUT_S = 3  # far shorter than the victim's run: SQS redelivers it while it runs


@dataclass
class SqsFleet:
    endpoint: str
    env: dict[str, str]
    domain: str
    queue: str


@pytest.fixture
def fleet(local_swf_server: LocalSWF, redis_url: str) -> Iterator[SqsFleet]:
    """A local SQS with the operator's queue made beforehand (kombu keeps an existing
    queue's settings), registered types, env for workers and pollers."""
    with sqs.local_sqs() as endpoint:
        queue = f"swfbridge-faults-{uuid.uuid4().hex[:6]}"
        sqs.client(endpoint).create_queue(
            QueueName=queue, Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_S)}
        )
        env = processes.bridge_env(
            broker_url=sqs.broker_url(endpoint),
            swf_endpoint=local_swf_server.endpoint_url,
            activities="tests.faults.activities",
        )
        env["SWFBRIDGE_STATE_URL"] = redis_url
        env["SWFBRIDGE_FAULTS_REDIS"] = redis_url
        domain = f"faults-sqs-{uuid.uuid4().hex[:8]}"
        registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
        assert registered.returncode == 0, registered.stderr
        yield SqsFleet(endpoint, env, domain, queue)


def _work(key: str, sleep_s: float) -> ScheduledActivity:
    return ScheduledActivity(key, "Work", "1", input=json.dumps([[key, sleep_s], {}]))


def _runs(redis_url: str) -> Counter[str]:
    return Counter(k.decode() for k in redis.Redis.from_url(redis_url).lrange(RUNS_KEY, 0, -1))


@pytest.mark.slow
def test_a_job_running_past_the_sqs_visibility_timeout_completes_once(
    local_swf_server: LocalSWF, redis_url: str, fleet: SqsFleet, tmp_path: Path
) -> None:
    long_job = f"long-{uuid.uuid4().hex[:6]}"
    worker = processes.start_worker(fleet.env, tmp_path, extra=["-Q", fleet.queue])
    poller = None
    try:
        poller = processes.start_poller(
            fleet.env,
            tmp_path,
            domain=fleet.domain,
            task_list=TASK_LIST,
            extra=["--queue", fleet.queue],
        )
        run = start_activities(
            local_swf_server.client(),
            domain=fleet.domain,
            task_list=TASK_LIST,
            timeout_s=60,
            activities=[_work(long_job, 3 * VISIBILITY_TIMEOUT_S)],
        )
        outcomes = run.wait(60)
    finally:
        processes.stop_all(poller, worker)
    logs = worker.output() + (poller.output() if poller else "")
    assert outcomes[long_job].status == "completed", (outcomes[long_job], logs)
    assert _runs(redis_url)[long_job] == 1, logs
    assert "duplicate delivery dropped" in logs  # SQS did hand it out again


@pytest.mark.slow
def test_a_job_redelivered_by_sqs_after_its_worker_died_is_not_run_twice(
    local_swf_server: LocalSWF, redis_url: str, fleet: SqsFleet, tmp_path: Path
) -> None:
    recorder = redis.Redis.from_url(redis_url)
    victim = f"victim-{uuid.uuid4().hex[:6]}"
    quick = [f"quick-{uuid.uuid4().hex[:6]}-{i}" for i in range(6)]
    worker = processes.start_worker(
        fleet.env, tmp_path, name="sqs-worker", extra=["-Q", fleet.queue]
    )
    poller = replacement = None
    try:
        poller = processes.start_poller(
            fleet.env,
            tmp_path,
            domain=fleet.domain,
            task_list=TASK_LIST,
            extra=["--queue", fleet.queue, "--max-in-flight", "4"],
        )
        run = start_activities(
            local_swf_server.client(),
            domain=fleet.domain,
            task_list=TASK_LIST,
            timeout_s=60,
            activities=[_work(victim, 8.0)] + [_work(key, 0.1) for key in quick],
        )
        processes.wait_for(
            lambda: recorder.get(f"faults:pid:{victim}") is not None, 30, "victim running"
        )
        worker.kill()  # SIGKILL to the main process and its pool: nothing is acknowledged
        replacement = processes.start_worker(
            fleet.env, tmp_path, name="sqs-replacement", extra=["-Q", fleet.queue]
        )
        outcomes = run.wait(90)
    finally:
        worker.kill()
        processes.stop_all(poller, replacement)
    runs = _runs(redis_url)
    logs = worker.output() + (replacement.output() if replacement else "")
    logs += poller.output() if poller else ""
    assert runs[victim] == 1, logs
    assert outcomes[victim].status == "timed_out", (outcomes[victim], logs)
    assert outcomes[victim].timeout_type == "START_TO_CLOSE"
    assert "duplicate delivery dropped" in logs  # its message did come back
    assert all(runs[k] <= 1 for k in quick), runs  # nothing ran twice
    # At most the other pool process's job was running when the worker died:
    # claimed, its copy is dropped and SWF times it out. Every other quick job
    # completes, the unstarted ones on the replacement.
    lost = [k for k in quick if outcomes[k].status != "completed"]
    assert len(lost) <= 1, outcomes
    assert all(outcomes[k].timeout_type == "START_TO_CLOSE" for k in lost), outcomes
