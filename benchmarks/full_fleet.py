"""``python -m benchmarks.full_fleet``: the capacity-aware poller with the fleet full.

The real poller (``--pollers 4 --max-in-flight 4`` by default) against a fake
SWF that always has tasks, a real Redis as broker and state store, and
``--workers`` threads standing in for Celery workers: each takes a message off
the queue, waits ``--job-ms``, and frees the attempt's slot as the worker does.
With as many slots as workers, most polls wait for a free slot: this measures
that path. Prints the tasks per second and the Redis commands per task
(``INFO commandstats``: the server must serve only this run).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from typing import Any

import redis

from swfbridge.poller.build import build_poller, celery_dispatcher
from swfbridge.poller.loop import PollerConfig
from swfbridge.poller.timeouts import TimeoutPolicy
from swfbridge.state.store import BridgeState, StateConfig


class _Swf:
    """Answers ``count`` polls with a task each, then empty polls."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.lock = threading.Lock()

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        with self.lock:
            if operation == "poll_for_activity_task" and self.left > 0:
                self.left -= 1
                n = self.left
                return {
                    "taskToken": f"token-{n}",
                    "activityId": f"a{n}",
                    "startedEventId": n,
                    "activityType": {"name": "FullFleet", "version": "1"},
                    "workflowExecution": {"workflowId": "w", "runId": "r"},
                    "input": "{}",
                }
        time.sleep(0.01)
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True, help="redis:// URL of a Redis for this run")
    parser.add_argument("--count", type=int, default=2000, help="tasks")
    parser.add_argument("--pollers", type=int, default=4, help="poll threads")
    parser.add_argument("--max-in-flight", type=int, default=4, help="slots")
    parser.add_argument("--workers", type=int, default=4, help="fake worker threads")
    parser.add_argument("--job-ms", type=float, default=2.0, help="each job's length")
    args = parser.parse_args()

    queue = f"full-fleet-{uuid.uuid4().hex[:6]}"
    state = BridgeState(config=StateConfig(url=args.broker, key_prefix=f"ff-{uuid.uuid4().hex}"))
    client = redis.Redis.from_url(args.broker)
    done = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal done
        while True:
            item = client.brpop([queue], 1)
            if item is None:
                continue
            attempt_id = json.loads(item[1])["headers"]["id"]
            time.sleep(args.job_ms / 1000)
            state.release("d", "tl", attempt_id)
            with lock:
                done += 1

    for _ in range(args.workers):
        threading.Thread(target=worker, daemon=True).start()
    client.config_resetstat()
    poller = build_poller(
        config=PollerConfig(
            domain="d",
            task_list="tl",
            identity="full-fleet",
            pollers=args.pollers,
            max_in_flight=args.max_in_flight,
        ),
        swf=_Swf(args.count),  # type: ignore[arg-type]
        dispatcher=celery_dispatcher(args.broker, queue=queue),
        timeouts_from=TimeoutPolicy.REGISTRATION,
        state=state,
    )
    started = time.perf_counter()
    poller.start()
    while done < args.count:
        time.sleep(0.01)
    wall = time.perf_counter() - started
    poller.stop()
    poller.join(5)
    stats = client.info("commandstats")
    per_task = {
        name.removeprefix("cmdstat_"): round(value["calls"] / args.count, 2)
        for name, value in sorted(stats.items())
        if value["calls"] / args.count >= 0.05
    }
    print(
        json.dumps(
            {
                "tasks_per_s": round(args.count / wall),
                "redis_commands_per_task": per_task,
                "slot_waits": poller.counts.get("slot_waits", 0),
            }
        )
    )


if __name__ == "__main__":
    main()
