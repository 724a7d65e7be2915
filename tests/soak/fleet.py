"""The soak's deployment: the local SWF endpoint, a Redis broker, Celery
workers and pollers, each supervised (restarted when it dies, as systemd's
``Restart=always`` would), and every death written down."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.faults.harness import RestartableRedis
from tests.support import processes

RESTART_DELAY_S = 1.0  # systemd's RestartSec
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Death:
    """A supervised process that exited: killed by the chaos driver or by itself."""

    role: str
    pid: int
    at: float
    returncode: int
    by_chaos: bool


def children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (a worker's pool processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def launch(
    name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path, ready: str
) -> processes.Process:
    """Spawn and wait for ``ready`` in its output; kill it if it never gets there."""
    proc = processes.spawn(name, argv, env, log_dir)
    try:
        processes.wait_for(
            lambda: ready in proc.output() or not proc.alive(), START_TIMEOUT_S, f"{name} ready"
        )
    except TimeoutError:
        proc.kill()
        raise
    if not proc.alive():
        raise RuntimeError(f"{name} exited at start (code {proc.popen.returncode})")
    return proc


class Supervised:
    """One role (``worker-a``, ``poller-b``), kept running: restarted after
    :data:`RESTART_DELAY_S` whenever it dies, whoever killed it."""

    def __init__(self, role: str, start: Callable[[str], processes.Process], fleet: Fleet) -> None:
        self.role = role
        self._start = start
        self._fleet = fleet
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.current: processes.Process | None = None
        self.incarnations: list[processes.Process] = []
        self.failed_starts = 0
        self._up = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"supervise-{role}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_up(self, timeout_s: float = START_TIMEOUT_S) -> None:
        if not self._up.wait(timeout_s):
            raise TimeoutError(f"{self.role} did not start")

    def _loop(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                proc = self._start(f"{self.role}-{n}")
            except (RuntimeError, TimeoutError):
                self.failed_starts += 1
                self._stop.wait(RESTART_DELAY_S)
                continue
            with self._lock:
                self.current = proc
                self.incarnations.append(proc)
            self._up.set()
            while proc.alive() and not self._stop.is_set():
                self._stop.wait(0.2)
            if self._stop.is_set():
                return
            with self._lock:
                self.current = None
            self._fleet.record_death(self.role, proc)
            self._stop.wait(RESTART_DELAY_S)

    def kill(self) -> None:
        """Stop supervising and kill -9 every incarnation still alive."""
        self._stop.set()
        for proc in self.incarnations:
            proc.kill()

    def stop(self, timeout_s: float) -> None:
        """Stop supervising, then stop the process gracefully (SIGTERM)."""
        self._stop.set()
        self._thread.join(START_TIMEOUT_S + 5)
        with self._lock:
            proc = self.current
        if proc is not None:
            proc.stop(timeout_s=timeout_s)


class LocalSWFProcess:
    """``swfbridge local-swf`` in a process of its own (its GIL is not the soak's)."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, poll_timeout_s: float) -> None:
        self.proc = processes.spawn(
            "local-swf",
            [
                sys.executable,
                "-m",
                "swfbridge",
                "local-swf",
                "--port",
                "0",
                "--poll-timeout",
                str(poll_timeout_s),
                "--retention",
                "120",
            ],
            env,
            log_dir,
        )
        processes.wait_for(
            lambda: "http://" in self.proc.output() or not self.proc.alive(), 60, "local SWF"
        )
        if not self.proc.alive():
            raise RuntimeError(f"local SWF exited:\n{self.proc.output()}")
        self.url = next(
            line.strip() for line in self.proc.output().splitlines() if line.startswith("http://")
        )

    def faults(self, *, kind: str, fraction: float) -> None:
        """Make ``fraction`` of every SWF request fail (admin endpoint)."""
        self._admin("POST", {"fraction": fraction, "kind": kind})

    def clear_faults(self) -> None:
        self._admin("DELETE", None)

    def _admin(self, method: str, body: object) -> None:
        request = urllib.request.Request(
            f"{self.url}/_swfbridge/faults",
            method=method,
            data=json.dumps(body).encode() if body is not None else b"",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def stop(self) -> None:
        self.proc.stop()


@dataclass(frozen=True)
class FleetConfig:
    workers: int = 2
    concurrency: int = 6
    pollers: int = 2
    poll_threads: int = 2
    max_in_flight: int | None = None  # None: 1.5 x the fleet's concurrency
    poll_timeout_s: float = 2.0


class Fleet:
    """Everything the soak runs, started and supervised; deaths recorded."""

    def __init__(
        self,
        config: FleetConfig,
        *,
        workdir: Path,
        recorder_url: str,
        domain: str,
        activities: str,
    ) -> None:
        self.config = config
        self.workdir = workdir
        self.domain = domain
        self.deaths: list[Death] = []
        self.dead_pids: set[int] = set()  # every process that died or was killed
        self._chaos_pids: set[int] = set()
        self._lock = threading.Lock()
        (workdir / "broker").mkdir(parents=True, exist_ok=True)
        self.broker = RestartableRedis(workdir / "broker")
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = processes.bridge_env(
            broker_url=self.broker.url, swf_endpoint="", activities=activities
        )
        self.env["SWFBRIDGE_SOAK_REDIS"] = recorder_url
        self.swf: LocalSWFProcess | None = None
        slots = config.workers * config.concurrency
        self.max_in_flight = config.max_in_flight or (slots * 3 + 1) // 2
        self.workers = [
            Supervised(f"worker-{chr(97 + i)}", self._start_worker, self)
            for i in range(config.workers)
        ]
        self.pollers = [
            Supervised(f"poller-{chr(97 + i)}", self._start_poller, self)
            for i in range(config.pollers)
        ]

    @property
    def local_swf(self) -> LocalSWFProcess:
        if self.swf is None:
            raise RuntimeError("the fleet is not started")
        return self.swf

    def start(self) -> None:
        """Broker, local SWF, the activity types, then every role (in parallel)."""
        self.broker.start()
        self.swf = LocalSWFProcess(self.env, self.logs, poll_timeout_s=self.config.poll_timeout_s)
        self.env["AWS_ENDPOINT_URL_SWF"] = self.swf.url
        done = processes.run_cli(self.env, "register", "--domain", self.domain, "--create-domain")
        if done.returncode != 0:
            raise RuntimeError(f"register failed:\n{done.stdout}{done.stderr}")
        for role in (*self.workers, *self.pollers):
            role.start()
        for role in (*self.workers, *self.pollers):
            role.wait_up()

    def _start_worker(self, name: str) -> processes.Process:
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "swfbridge",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(self.config.concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{name}@%h",
        ]
        return launch(name, argv, self.env, self.logs, " ready.")

    def _start_poller(self, name: str) -> processes.Process:
        argv = [
            sys.executable,
            "-m",
            "swfbridge",
            "poll",
            "--domain",
            self.domain,
            "--task-list",
            "soak",
            "--pollers",
            str(self.config.poll_threads),
            "--max-in-flight",
            str(self.max_in_flight),
        ]
        return launch(name, argv, self.env, self.logs, "swfbridge poll starting")

    # --- deaths and kills ------------------------------------------------------

    def record_death(self, role: str, proc: processes.Process) -> None:
        pid = proc.popen.pid
        with self._lock:
            self.dead_pids.add(pid)
            self.deaths.append(
                Death(
                    role=role,
                    pid=pid,
                    at=time.time(),
                    returncode=int(proc.popen.returncode or 0),
                    by_chaos=pid in self._chaos_pids,
                )
            )

    def kill_child(self, worker: Supervised, pick: Callable[[list[int]], int]) -> int | None:
        """kill -9 one pool process of ``worker``; its pid, or None if none is up."""
        proc = worker.current
        if proc is None or not proc.alive():
            return None
        children = children_of(proc.popen.pid)
        if not children:
            return None
        victim = pick(sorted(children))
        with self._lock:
            self.dead_pids.add(victim)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return victim

    def kill_whole(self, role: Supervised) -> int | None:
        """kill -9 a process and its children (a lost host, the OOM killer)."""
        proc = role.current
        if proc is None or not proc.alive():
            return None
        pid = proc.popen.pid
        with self._lock:
            self._chaos_pids.add(pid)
            self.dead_pids.add(pid)
            self.dead_pids.update(children_of(pid))
        proc.kill()  # SIGKILL to the process group
        return pid

    def restart_broker(self, down_s: float) -> None:
        self.broker.stop()
        time.sleep(down_s)
        self.broker.start()

    def stop(self) -> None:
        """Graceful stop of everything, pollers first (nothing new is taken)."""
        for role in self.pollers:
            role.stop(timeout_s=15)
        for role in self.workers:
            role.stop(timeout_s=40)
        if self.swf is not None:
            self.swf.stop()
        self.broker.stop()

    def kill_everything(self) -> None:
        """Last resort (an exception): leave no process behind."""
        for role in (*self.pollers, *self.workers):
            role.kill()
        if self.swf is not None:
            self.swf.proc.kill()
        self.broker.stop()

    def incarnations(self, kind: str) -> list[processes.Process]:
        roles = self.workers if kind == "worker" else self.pollers
        return [proc for role in roles for proc in role.incarnations]
