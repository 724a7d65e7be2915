"""Measure poll+complete throughput on a fresh local SWF and after 10,000 tasks.

Not a test: run by hand, from the repository root:

    .venv/bin/python tests/testing/measure_sustained_rate.py [--batches 22] [--batch-size 500]

Starts ``swfbridge local-swf`` in a subprocess (so client and server do not
share a GIL), then runs batches of one workflow with ``--batch-size``
activities each; ``--pollers`` threads poll and complete them. Prints the
rate of each batch (poll+complete pairs per second).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "bench"


def _client(url: str) -> Any:
    return boto3.session.Session().client(
        "swf",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(
            read_timeout=30,
            retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=32,
        ),
    )


def _setup(client: Any) -> None:
    client.register_domain(name=DOMAIN, workflowExecutionRetentionPeriodInDays="1")
    client.register_workflow_type(
        domain=DOMAIN,
        name="wf",
        version="1",
        defaultTaskStartToCloseTimeout="60",
        defaultExecutionStartToCloseTimeout="3600",
        defaultChildPolicy="TERMINATE",
    )
    client.register_activity_type(
        domain=DOMAIN,
        name="a",
        version="1",
        defaultTaskList={"name": "tl"},
        defaultTaskHeartbeatTimeout="NONE",
        defaultTaskScheduleToStartTimeout="NONE",
        defaultTaskScheduleToCloseTimeout="NONE",
        defaultTaskStartToCloseTimeout="60",
    )


def _decide(client: Any, task_list: str, decisions: list[dict[str, Any]]) -> None:
    while True:
        task = client.poll_for_decision_task(domain=DOMAIN, taskList={"name": task_list})
        if task["taskToken"]:
            client.respond_decision_task_completed(taskToken=task["taskToken"], decisions=decisions)
            return


def _batch(client: Any, url: str, size: int, pollers: int) -> float:
    workflow_id = f"w-{uuid.uuid4().hex}"
    decisions_list = f"d-{workflow_id}"
    client.start_workflow_execution(
        domain=DOMAIN,
        workflowId=workflow_id,
        workflowType={"name": "wf", "version": "1"},
        taskList={"name": decisions_list},
    )
    _decide(
        client,
        decisions_list,
        [
            {
                "decisionType": "ScheduleActivityTask",
                "scheduleActivityTaskDecisionAttributes": {
                    "activityType": {"name": "a", "version": "1"},
                    "activityId": str(i),
                },
            }
            for i in range(size)
        ],
    )
    remaining = [size]
    lock = threading.Lock()

    def work() -> None:
        own = _client(url)
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            task = own.poll_for_activity_task(domain=DOMAIN, taskList={"name": "tl"})
            own.respond_activity_task_completed(taskToken=task["taskToken"], result="r")

    threads = [threading.Thread(target=work) for _ in range(pollers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = size / (time.perf_counter() - started)
    _decide(client, decisions_list, [{"decisionType": "CompleteWorkflowExecution"}])
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=22)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--pollers", type=int, default=4)
    parser.add_argument("--retention", type=float, default=5.0)
    args = parser.parse_args()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "swfbridge",
            "local-swf",
            "--port",
            "0",
            "--poll-timeout",
            "5",
            "--retention",
            str(args.retention),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        client = _client(url)
        _setup(client)
        rates = []
        for number in range(1, args.batches + 1):
            rates.append(_batch(client, url, args.batch_size, args.pollers))
            done = number * args.batch_size
            print(f"batch {number:3d}: {rates[-1]:7.1f} pairs/s  ({done} tasks finished)")
        fresh = rates[0]
        late = sum(rates[-2:]) / 2
        print(
            f"fresh: {fresh:.1f} pairs/s; after {(args.batches - 2) * args.batch_size} tasks: "
            f"{late:.1f} pairs/s ({late / fresh:.0%} of fresh)"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
