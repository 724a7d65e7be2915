"""Real processes for integration tests: redis-server, celery workers, pollers.

The process helpers are the benchmarks' (:mod:`benchmarks.processes`), shared
so both run the bridge the same way; what only tests need is here.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from benchmarks.processes import (
    REPO_ROOT,
    Process,
    bridge_env,
    free_port,
    port_open,
    redis_server,
    spawn,
    start_poller,
    start_worker,
    wait_for,
    wait_worker_ready,
)

__all__ = [
    "RABBITMQ_URL",
    "REPO_ROOT",
    "Process",
    "bridge_env",
    "free_port",
    "port_open",
    "rabbitmq_up",
    "redis_server",
    "run_cli",
    "spawn",
    "start_poller",
    "start_worker",
    "stop_all",
    "wait_for",
    "wait_worker_ready",
]

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


def rabbitmq_up() -> bool:
    """True if the machine's RabbitMQ answers on 127.0.0.1:5672."""
    return port_open(5672, timeout_s=1.0)


def run_cli(
    env: dict[str, str], *args: str, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swfbridge", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def stop_all(*procs: Process | None, timeout_s: float = 30.0) -> None:
    """Stop several processes at once: SIGTERM to each, then wait for each.

    Stopping them one after another adds up their shutdowns (a poller finishes
    the long poll under way, up to the local SWF's 2 s; a worker its warm
    shutdown); signalled together, they overlap. A process still running
    after ``timeout_s`` is killed, as :meth:`Process.stop` would.
    """
    running = [p for p in procs if p is not None and p.alive()]
    for proc in running:
        proc.popen.send_signal(signal.SIGTERM)
    for proc in running:
        try:
            proc.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
