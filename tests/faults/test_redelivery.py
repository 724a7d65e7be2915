"""Jobs a worker had reserved but not started run elsewhere when it dies.

A worker killed -9, or whose broker restarts, holds prefetched jobs that no
one runs until Redis gives them back (visibility timeout + kombu's sweep).
swfbridge keeps that wait shorter than the start-to-close timeout, so they run
on another worker before SWF times them out; the claims drop the copies of the
jobs that were running. Only what ran in a killed process may time out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from swfbridge.testing import LocalSWF
from tests.faults.activities import TASK_LIST
from tests.faults.harness import (
    RestartableRedis,
    Row,
    logs,
    record,
    schedule,
    timed_out_unstarted,
)
from tests.support import processes

pytestmark = pytest.mark.slow

CONFIG_MODULE = "tests.faults.redelivery_config"


def _workers_and_poller(
    env: dict[str, str], log_dir: Path, domain: str
) -> tuple[list[processes.Process], processes.Process]:
    # Prefetch 4 x 2 processes: the victim holds 8 jobs and runs 2.
    # The worker boots while the poller starts: nothing is scheduled before both are up.
    victim = processes.start_worker(
        env,
        log_dir,
        name="victim",
        concurrency=2,
        extra=["--prefetch-multiplier", "4"],
        ready=False,
    )
    try:
        poller = processes.start_poller(
            env,
            log_dir,
            domain=domain,
            task_list=TASK_LIST,
            name="poller",
            extra=["--pollers", "2"],
        )
    except Exception:
        victim.kill()
        raise
    try:
        processes.wait_worker_ready(victim)
    except Exception:
        processes.stop_all(poller)
        raise
    return [victim], poller


def run_with_reserved_jobs(
    name: str,
    fault: Callable[[list[processes.Process], dict[str, str], Path], None],
    *,
    swf: LocalSWF,
    domain: str,
    env: dict[str, str],
    log_dir: Path,
    recorder: Any,
    broker: RestartableRedis,
    count: int = 12,
    sleep_s: float = 1.0,
) -> Row:
    env = {**env, "CELERY_CONFIG_MODULE": CONFIG_MODULE}
    specs = [f"{name}-{i}" for i in range(count)]
    workers, poller = _workers_and_poller(env, log_dir, domain)
    try:
        run = schedule(swf, domain, specs, sleep_s=sleep_s, timeout_s=120)
        broker_client = redis.Redis.from_url(broker.url)
        # The victim has prefetched: two run, the rest wait in its memory.
        processes.wait_for(
            lambda: broker_client.hlen("unacked") >= 6, 30, "the victim holds reserved jobs"
        )
        fault(workers, env, log_dir)
        outcomes = run.wait(150)
    finally:
        processes.stop_all(poller, *workers)
    row = record(name, outcomes, recorder, specs)
    detail = f"{row}\n{logs(*workers, poller)}"
    assert len(outcomes) == count, detail
    assert row.duplicates == 0, detail
    assert row.other == 0, detail
    # Only a job that a killed process had claimed may time out.
    assert not timed_out_unstarted(row, workers), detail
    assert row.completed + row.timed_out == count, detail
    return row


def test_kill_9_of_a_worker_holding_reserved_jobs_runs_them_on_another_worker(
    ctx: dict[str, Any],
) -> None:
    def fault(workers: list[processes.Process], env: dict[str, str], log_dir: Path) -> None:
        workers[0].kill()  # SIGKILL to the worker and its pool
        workers.append(processes.start_worker(env, log_dir, name="replacement", concurrency=4))

    row = run_with_reserved_jobs("kill -9 worker, reserved jobs", fault, **ctx)
    assert row.timed_out <= 2  # the two it was running


def test_a_redis_restart_that_takes_the_worker_down_loses_none_of_its_reserved_jobs(
    ctx: dict[str, Any],
) -> None:
    """A worker that survives the restart gives its reserved jobs back itself
    (kombu restores what it holds when it reconnects; measured on main). One that
    dies with it (Celery 5.7 can, in kombu's reconnect; or the node went with
    Redis) cannot: the broker's append-only file keeps them as unacknowledged
    until the visibility timeout."""
    broker: RestartableRedis = ctx["broker"]

    def fault(workers: list[processes.Process], env: dict[str, str], log_dir: Path) -> None:
        broker.stop()
        workers[0].kill()  # dies while Redis is away: nothing restores its jobs
        broker.start()
        workers.append(processes.start_worker(env, log_dir, name="restarted", concurrency=4))

    row = run_with_reserved_jobs("redis restart, worker dies", fault, **ctx)
    assert row.timed_out <= 2  # the two it was running


@pytest.mark.skipif(not processes.rabbitmq_up(), reason="no RabbitMQ on 127.0.0.1:5672")
def test_on_rabbitmq_a_killed_workers_reserved_jobs_run_on_another_worker_at_once(
    local_swf_server: LocalSWF, redis_url: str, recorder_url: str, recorder: Any, tmp_path: Path
) -> None:
    """RabbitMQ redelivers when the consumer's connection closes: no timeout involved."""
    domain = f"faults-amqp-{uuid.uuid4().hex[:8]}"
    queue = f"swfbridge-test-{uuid.uuid4().hex[:8]}"  # the RabbitMQ is shared
    env = processes.bridge_env(
        broker_url=processes.RABBITMQ_URL,
        swf_endpoint=local_swf_server.endpoint_url,
        activities="tests.faults.activities",
    )
    env["SWFBRIDGE_STATE_URL"] = redis_url
    env["SWFBRIDGE_FAULTS_REDIS"] = recorder_url
    assert processes.run_cli(env, "register", "--domain", domain, "--create-domain").returncode == 0
    name, count = "rabbitmq kill -9 worker, reserved", 12
    specs = [f"{name}-{uuid.uuid4().hex[:6]}-{i}" for i in range(count)]
    victim = processes.start_worker(
        env,
        tmp_path,
        name="amqp-victim",
        concurrency=2,
        extra=["-Q", queue, "--prefetch-multiplier", "4"],
    )
    poller = processes.start_poller(
        env, tmp_path, domain=domain, task_list=TASK_LIST, extra=["--queue", queue]
    )
    workers = [victim]
    try:
        run = schedule(local_swf_server, domain, specs, sleep_s=1.0, timeout_s=90)
        processes.wait_for(
            lambda: victim.output().count("] received") >= 6, 30, "the victim holds jobs"
        )
        victim.kill()
        workers.append(
            processes.start_worker(env, tmp_path, name="amqp-replacement", extra=["-Q", queue])
        )
        outcomes = run.wait(120)
    finally:
        processes.stop_all(poller, *workers)
    row = record(name, outcomes, recorder, specs)
    detail = f"{row}\n{logs(*workers)}"
    assert len(outcomes) == count and row.duplicates == 0 and row.other == 0, detail
    assert not timed_out_unstarted(row, workers), detail
    assert row.timed_out <= 2, detail  # the two it was running
