"""examples/deploy/supervisord.conf, run for real by supervisord: both programs start,
serve a workflow, are restarted after a crash and stop gracefully."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, Host, run_greeting
from tests.support import processes

pytestmark = pytest.mark.skipif(
    shutil.which("supervisord") is None and not (Path(sys.prefix) / "bin" / "supervisord").exists(),
    reason="supervisor is not installed (it is in the dev extra)",
)

PROGRAMS = ("swfbridge-worker", "swfbridge-poll")


class Supervisor:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.config = host.root / "etc" / "supervisord.conf"
        self.config.write_text(host.render((DEPLOY / "supervisord.conf").read_text()))
        self.bin = Path(sys.prefix) / "bin"
        self.process = subprocess.Popen(
            [str(self.bin / "supervisord"), "-n", "-c", str(self.config)],
            env=host.base_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.bin / "supervisorctl"), "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.stdout + done.stderr

    def state(self, program: str) -> str:
        return self.ctl("status", program)

    def pid(self, program: str) -> int:
        return int(self.ctl("pid", program).strip())

    def log(self, name: str) -> str:
        path = self.host.root / "log" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"----- {n}\n{self.log(n)}" for n in ("supervisord", "worker", "poll"))

    def wait_running(self) -> None:
        processes.wait_for(
            lambda: all(" RUNNING " in self.state(p) for p in PROGRAMS), 90, "both programs RUNNING"
        )
        processes.wait_for(lambda: " ready." in self.log("worker"), 90, "the worker ready")
        processes.wait_for(
            lambda: self.log("poll").count("swfbridge poll starting") >= 1, 60, "the poller polling"
        )

    def shutdown(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(200)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def test_the_supervisord_example_runs_restarts_and_stops_the_bridge_gracefully(
    host: Host,
) -> None:
    supervisor = Supervisor(host)
    try:
        supervisor.wait_running()
        assert run_greeting(host.swf) == '"Hello, ops!"', supervisor.logs()

        # A crash (SIGKILL) is unexpected: supervisord starts the poller again.
        crashed = supervisor.pid("swfbridge-poll")
        os.kill(crashed, signal.SIGKILL)
        processes.wait_for(
            lambda: supervisor.log("poll").count("swfbridge poll starting") == 2,
            90,
            "the poller restarted",
        )
        assert supervisor.pid("swfbridge-poll") != crashed
        assert run_greeting(host.swf, attempts=3) == '"Hello, ops!"', supervisor.logs()

        stopped = supervisor.ctl("stop", "all")
    finally:
        supervisor.shutdown()

    # Both stopped on their stop signal, within stopwaitsecs, exiting 0.
    log = supervisor.log("supervisord")
    assert "stopped: swfbridge-poll (exit status 0)" in log, stopped + supervisor.logs()
    assert "stopped: swfbridge-worker (exit status 0)" in log, stopped + supervisor.logs()
    assert not re.search(r"killing '?swfbridge-\w+'? .*SIGKILL", log), supervisor.logs()
    assert "swfbridge poll stopped:" in supervisor.log("poll")
