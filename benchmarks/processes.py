"""Real processes for benchmarks (and the integration tests): redis-server,
celery workers, pollers, each with its output in a log file."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


@dataclass
class Process:
    """A child process whose combined output goes to a log file."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    name: str

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            self.popen.send_signal(signum)

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.popen.wait())

    def kill(self) -> None:
        if self.alive():
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def spawn(name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path) -> Process:
    log_path = log_dir / f"{name}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - handed to the child
    popen = subprocess.Popen(
        list(argv),
        env=env,
        cwd=REPO_ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so kill() takes the pool too
    )
    log_file.close()
    return Process(popen=popen, log_path=log_path, name=name)


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="swfbridge-redis-") as workdir:
        proc = spawn(
            "redis",
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                workdir,
            ],
            dict(os.environ),
            Path(workdir),
        )
        try:
            wait_for(lambda: port_open(port), 10, "redis-server")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.stop()


def port_open(port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def bridge_env(*, broker_url: str, swf_endpoint: str, activities: str) -> dict[str, str]:
    """Environment for swfbridge processes: the broker, the local SWF endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CELERY_"))}
    env.update(
        CELERY_BROKER_URL=broker_url,
        AWS_ENDPOINT_URL_SWF=swf_endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        SWFBRIDGE_ACTIVITIES=activities,
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_worker(
    env: dict[str, str],
    log_dir: Path,
    *,
    name: str = "worker",
    concurrency: int = 2,
    extra: Sequence[str] = (),
    app: str = "swfbridge",
    ready: bool = True,
) -> Process:
    """A real ``celery -A <app> worker`` (prefork), started and ready.

    ``ready=False`` returns as soon as it is spawned, so that something else
    (a poller) can start meanwhile; then :func:`wait_worker_ready`.
    """
    proc = spawn(
        name,
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            app,
            "worker",
            "-P",
            "prefork",
            "-c",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{name}@%h",
            *extra,
        ],
        env,
        log_dir,
    )
    if ready:
        wait_worker_ready(proc)
    return proc


def wait_worker_ready(proc: Process) -> None:
    """Wait for a worker of :func:`start_worker` to log `` ready.``; killed if it does not."""
    try:
        wait_for(lambda: " ready." in proc.output() or not proc.alive(), 60, f"{proc.name} ready")
    except TimeoutError:
        proc.kill()
        raise
    if not proc.alive():
        raise RuntimeError(f"{proc.name} exited:\n{proc.output()}")


def start_poller(
    env: dict[str, str],
    log_dir: Path,
    *,
    domain: str,
    task_list: str,
    name: str = "poller",
    extra: Sequence[str] = (),
) -> Process:
    """A real ``swfbridge poll`` process, started and polling."""
    proc = spawn(
        name,
        [
            sys.executable,
            "-m",
            "swfbridge",
            "poll",
            "--domain",
            domain,
            "--task-list",
            task_list,
            *extra,
        ],
        env,
        log_dir,
    )
    wait_for(
        lambda: "swfbridge poll starting" in proc.output() or not proc.alive(),
        30,
        f"{name} started",
    )
    if not proc.alive():
        raise RuntimeError(f"{name} exited:\n{proc.output()}")
    return proc
