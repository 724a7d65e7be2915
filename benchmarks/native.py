"""A plain boto3 SWF activity worker: poll -> run -> respond, one task at a time.

This is what a hand-written worker (or flowy) does: one single-threaded loop
per process, scaled by running C processes. ``heartbeat()`` calls SWF every
time (flowy's behaviour: no coalescing). Run as
``python -m benchmarks.native --endpoint URL --domain D --task-list T``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.workloads import run_native


def make_client(endpoint: str, read_timeout_s: float = 70.0) -> Any:
    return boto3.session.Session().client(
        "swf",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            read_timeout=read_timeout_s,
            connect_timeout=5,
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )


def work(client: Any, *, domain: str, task_list: str, identity: str, stop: threading.Event) -> int:
    """Poll and run tasks until ``stop`` is set; returns the number of tasks run."""
    done = 0
    while not stop.is_set():
        task = client.poll_for_activity_task(
            domain=domain, taskList={"name": task_list}, identity=identity
        )
        token = task.get("taskToken")
        if not token:
            continue
        args, _kwargs = json.loads(task.get("input") or "[[], {}]")

        def heartbeat(details: Any, token: str = token) -> bool:
            # flowy's contract: True, or False once SWF no longer knows the task.
            try:
                client.record_activity_task_heartbeat(taskToken=token, details=json.dumps(details))
            except client.exceptions.UnknownResourceFault:
                return False
            return True

        try:
            try:
                result = run_native(task["activityType"]["name"], args, heartbeat)
            except Exception as exc:
                client.respond_activity_task_failed(taskToken=token, reason=str(exc)[:256])
            else:
                client.respond_activity_task_completed(taskToken=token, result=json.dumps(result))
        except client.exceptions.UnknownResourceFault:
            pass  # timed out meanwhile: SWF has closed it
        done += 1
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.native")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--task-list", required=True)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = make_client(args.endpoint)
    print("native worker ready", flush=True)
    work(
        client,
        domain=args.domain,
        task_list=args.task_list,
        identity=f"native:{socket.gethostname()}:{os.getpid()}",
        stop=stop,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
