"""``swfbridge status`` follows tasks from SWF, to the broker, to the workers."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from swfbridge.testing import LocalSWF, ScheduledActivity, start_activities
from tests.cli.activities import TASK_LIST
from tests.support import processes


def _status(env: dict[str, str], domain: str, queue: str) -> dict[str, object]:
    result = processes.run_cli(
        env,
        "status",
        "--domain",
        domain,
        "--task-list",
        TASK_LIST,
        "--queue",
        queue,
        "--json",
        "--inspect-timeout",
        "0.5",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def test_status_shows_tasks_pending_then_queued_then_in_flight(
    local_swf: LocalSWF, tmp_path: Path
) -> None:
    domain = f"status-{uuid.uuid4().hex[:8]}"
    queue = f"status-{uuid.uuid4().hex[:8]}"
    with processes.redis_server() as redis_url:
        env = processes.bridge_env(
            broker_url=redis_url,
            swf_endpoint=local_swf.endpoint_url,
            activities="tests.cli.activities",
        )
        registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
        assert registered.returncode == 0, registered.stdout + registered.stderr
        run = start_activities(
            local_swf.client(),
            domain=domain,
            task_list=TASK_LIST,
            timeout_s=60,
            activities=[
                ScheduledActivity(f"nap-{n}", "Nap", "1", input=json.dumps([[3], {}]))
                for n in range(2)
            ],
        )
        processes.wait_for(
            lambda: _status(env, domain, queue)["pending_in_swf"] == 2,
            15,
            "two tasks pending in SWF",
        )

        poller = processes.start_poller(
            env,
            tmp_path,
            domain=domain,
            task_list=TASK_LIST,
            extra=["--queue", queue, "--max-in-flight", "5"],
        )
        try:
            processes.wait_for(
                lambda: _status(env, domain, queue)["queued_in_broker"] == 2,
                15,
                "two jobs queued in the broker",
            )
            queued = _status(env, domain, queue)
            assert queued["pending_in_swf"] == 0
            # Two jobs, plus the slot the poll under way holds (with --pollers 1).
            assert queued["slots_held"] in (2, 3)

            worker = processes.start_worker(env, tmp_path, extra=["-Q", queue])
            try:
                seen: dict[str, Any] = {}

                def two_in_flight() -> bool:
                    seen.update(_status(env, domain, queue))
                    return bool(seen["in_flight"] == 2)

                processes.wait_for(two_in_flight, 15, "two jobs in flight")
                # The default: each task's timeouts from its ActivityTaskScheduled event.
                assert seen["timeouts_from"] == {"history": 2}
                run.wait(timeout_s=60)
                final = _status(env, domain, queue)
                assert (final["queued_in_broker"], final["in_flight"]) == (0, 0)
                processes.wait_for(
                    lambda: _status(env, domain, queue)["slots_held"] <= 1,
                    10,
                    "the jobs' slots given back",
                )
            finally:
                worker.stop()
        finally:
            poller.stop()


def test_status_text_names_what_it_could_not_read_and_exits_1() -> None:
    env = processes.bridge_env(
        broker_url="redis://127.0.0.1:1/0", swf_endpoint="http://127.0.0.1:1", activities=""
    )
    result = processes.run_cli(
        env, "status", "--domain", "d", "--task-list", "t", "--inspect-timeout", "0.2"
    )

    assert result.returncode == 1
    assert "pending in SWF:    unavailable (" in result.stdout
    assert "queued in broker:  unavailable (" in result.stdout
    # The broker's error, not asked again of its workers.
    assert "in flight:         unavailable (OperationalError: " in result.stdout
    assert "Traceback" not in result.stderr
