"""Queued jobs stay alive when the poller that dispatched them dies.

Jobs with a 1.5 s heartbeat timeout wait in the broker behind a one-process
worker; their heartbeats are due while they wait. The poller that polled them
is killed -9; another poller of the task list, already running, beats for
them from the shared list in the state store. None may time out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from swfbridge.testing import LocalSWF
from tests.faults.activities import TASK_LIST
from tests.faults.harness import RestartableRedis, kill9_group, logs, record, schedule
from tests.support import processes

pytestmark = pytest.mark.slow


def test_kill_9_of_the_poller_leaves_its_queued_jobs_to_another_poller(
    local_swf_server: LocalSWF,
    domain: str,
    faults_env: dict[str, str],
    log_dir: Path,
    recorder: Any,
    broker: RestartableRedis,
) -> None:
    name, count = "kill -9 poller, queued heartbeats", 16
    specs = [f"{name}-{i}" for i in range(count)]
    worker = processes.start_worker(faults_env, log_dir, name="slow-worker", concurrency=1)
    first = processes.start_poller(
        faults_env, log_dir, domain=domain, task_list=TASK_LIST, name="poller-a"
    )
    pollers = [first]
    state = redis.Redis.from_url(broker.url)
    queued_key = f"swfbridge:queued:{domain}:{TASK_LIST}".encode()
    try:
        run = schedule(local_swf_server, domain, specs, activity="Beat", sleep_s=0.5, timeout_s=120)
        # Every job dispatched by the first poller; most wait in the broker.
        processes.wait_for(
            lambda: first.output().count("dispatched (") >= count, 30, "all dispatched"
        )
        pollers.append(
            processes.start_poller(
                faults_env, log_dir, domain=domain, task_list=TASK_LIST, name="poller-b"
            )
        )
        waiting = state.zcard(queued_key) if state.exists(queued_key) else 0
        kill9_group(first)
        outcomes = run.wait(150)
    finally:
        processes.stop_all(*pollers, worker)
    row = record(name, outcomes, recorder, specs)
    detail = f"{row}\nqueued at the kill: {waiting}\n{logs(worker, *pollers)}"
    assert len(outcomes) == count, detail
    assert row.duplicates == 0 and row.other == 0, detail
    assert row.completed == count, detail


def test_a_poller_killed_9_and_restarted_beats_the_jobs_it_had_queued(
    local_swf_server: LocalSWF,
    domain: str,
    faults_env: dict[str, str],
    log_dir: Path,
    recorder: Any,
) -> None:
    """One poller, restarted as a supervisor would: the queued jobs (8 s
    heartbeat timeout, up to ~12 s in the queue) are beaten again after it
    comes back, from the list in the state store its first life left."""
    # 12 jobs of 1 s behind one process: the last four wait past the heartbeat
    # timeout, and only the restarted poller can keep them alive.
    name, count = "kill -9 + restart poller, queued heartbeats", 12
    specs = [f"{name}-{i}" for i in range(count)]
    worker = processes.start_worker(faults_env, log_dir, name="one-process", concurrency=1)
    first = processes.start_poller(
        faults_env, log_dir, domain=domain, task_list=TASK_LIST, name="poller-life-1"
    )
    pollers = [first]
    try:
        run = schedule(
            local_swf_server, domain, specs, activity="SlowBeat", sleep_s=1.0, timeout_s=120
        )
        processes.wait_for(
            lambda: first.output().count("dispatched (") >= count, 30, "all dispatched"
        )
        kill9_group(first)
        pollers.append(
            processes.start_poller(
                faults_env, log_dir, domain=domain, task_list=TASK_LIST, name="poller-life-2"
            )
        )
        outcomes = run.wait(150)
    finally:
        processes.stop_all(*pollers, worker)
    row = record(name, outcomes, recorder, specs)
    detail = f"{row}\n{logs(worker, *pollers)}"
    assert len(outcomes) == count, detail
    assert row.duplicates == 0 and row.other == 0, detail
    assert row.completed == count, detail
