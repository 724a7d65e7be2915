"""Job messages the broker lost before any worker took them are published again.

kombu's Redis transport pops a message (BRPOP) and only then records it as
unacknowledged; a worker killed -9 between the two takes the message with it,
and nothing in Redis says it ever existed. The scenario does what that worker
did: it pops every queued message and drops it. Without recovery SWF times
each task out at its start-to-close deadline, though nothing ever ran it.

Half the popped messages are pushed back after the pollers published their
jobs again (a message only in flight, not lost, when the poller looked): the
claims must drop the second copy, so each activity still runs once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from swfbridge.testing import LocalSWF
from tests.faults.activities import TASK_LIST
from tests.faults.harness import RestartableRedis, logs, record, schedule
from tests.support import processes

pytestmark = pytest.mark.slow

QUEUE = "celery"  # the default queue the poller publishes to


def test_messages_popped_by_a_dead_consumer_are_published_again_and_run_once(
    local_swf_server: LocalSWF,
    domain: str,
    faults_env: dict[str, str],
    log_dir: Path,
    recorder: Any,
    broker: RestartableRedis,
) -> None:
    name, count = "messages lost between pop and unacked", 8
    specs = [f"lost-{i}" for i in range(count)]
    broker_client = redis.Redis.from_url(broker.url)
    poller = processes.start_poller(
        faults_env, log_dir, domain=domain, task_list=TASK_LIST, name="poller"
    )
    workers: list[processes.Process] = []
    try:
        run = schedule(
            local_swf_server, domain, specs, sleep_s=0.2, timeout_s=90, start_to_close="30"
        )
        # No worker yet: every job waits in the queue. Take them all, as a
        # consumer killed right after its BRPOP would have.
        processes.wait_for(
            lambda: broker_client.llen(QUEUE) == count, 30, "every job queued in the broker"
        )
        popped = [broker_client.rpop(QUEUE) for _ in range(count)]
        assert broker_client.llen(QUEUE) == 0 and broker_client.hlen("unacked") == 0
        processes.wait_for(
            lambda: poller.output().count("published it again") >= count,
            30,
            "the poller published the lost jobs again",
        )
        # The "lost" messages of half the jobs turn up after all (they were in flight).
        for message in popped[: count // 2]:
            broker_client.lpush(QUEUE, message)  # type: ignore[arg-type]
        workers.append(processes.start_worker(faults_env, log_dir, name="worker", concurrency=2))
        outcomes = run.wait(80)
    finally:
        poller.stop()
        for worker in workers:
            worker.stop(timeout_s=30)
    row = record(name, outcomes, recorder, specs)
    detail = f"{row}\n{logs(poller, *workers)}"
    assert row.completed == count, detail
    assert row.duplicates == 0, detail
    assert workers[-1].output().count("duplicate delivery dropped") == count // 2, detail
