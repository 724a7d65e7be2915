"""examples/deploy/systemd: the units pass ``systemd-analyze verify``, and their
ExecStart commands, started as systemd would (EnvironmentFile,
WorkingDirectory, specifiers), serve a workflow and stop on KillSignal within
TimeoutStopSec with a status the Restart policy treats as intended. (systemd is
not PID 1 here, so the units are not started through systemctl.)"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, Host, run_greeting
from tests.support import processes

WORKER_UNIT = "swfbridge-worker.service"
POLL_TEMPLATE = "swfbridge-poll@.service"
INSTANCE = "shop"


def parse_unit(text: str) -> dict[str, dict[str, str]]:
    """The unit's settings by section (the last assignment of a key wins)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current[key.strip()] = value.strip()
    return sections


def expand(value: str, instance: str = "") -> str:
    """The systemd specifiers the units use: %i (instance) and %% (a percent sign)."""
    return value.replace("%%", "\0").replace("%i", instance).replace("\0", "%")


def environment_file(path: Path) -> dict[str, str]:
    env = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def seconds(value: str) -> float:
    return float(value.removesuffix("s"))


class Service:
    """One unit's ExecStart, run the way systemd runs it."""

    def __init__(
        self, host: Host, unit: str, instance: str = "", extra_env: dict[str, str] | None = None
    ) -> None:
        self.settings = parse_unit(host.render((DEPLOY / "systemd" / unit).read_text()))
        service = self.settings["Service"]
        self.name = unit.replace("@", f"@{instance}") if instance else unit
        env = {
            **host.base_env(),
            **environment_file(Path(service["EnvironmentFile"])),
            **(extra_env or {}),
        }
        self.log_path = host.root / "log" / f"{self.name}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                shlex.split(expand(service["ExecStart"], instance)),
                env=env,
                cwd=service["WorkingDirectory"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def service(self) -> dict[str, str]:
        return self.settings["Service"]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """KillSignal to the main process (KillMode=mixed); SIGKILL to the group past
        TimeoutStopSec, as systemd does; returns the exit status (negative: a signal)."""
        assert self.service["KillMode"] == "mixed"
        if self.process.poll() is None:
            self.process.send_signal(getattr(signal, self.service["KillSignal"]))
        try:
            return self.process.wait(seconds(self.service["TimeoutStopSec"]))
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(
                f"{self.name} ignored {self.service['KillSignal']} for "
                f"TimeoutStopSec:\n{self.output()}"
            ) from None


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_systemd_units_pass_systemd_analyze_verify(host: Host) -> None:
    (host.root / "etc" / "swfbridge.env").write_text((DEPLOY / "swfbridge.env").read_text())
    units = host.root / "units"
    units.mkdir()
    for unit, name in (
        (WORKER_UNIT, WORKER_UNIT),
        (POLL_TEMPLATE, f"swfbridge-poll@{INSTANCE}.service"),
    ):
        (units / name).write_text(host.render((DEPLOY / "systemd" / unit).read_text()))

    done = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in units.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )

    # verify exits 0 on settings it ignores, but says so on stderr.
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


def test_the_units_commands_serve_a_workflow_and_stop_cleanly_on_their_kill_signal(
    host: Host,
) -> None:
    (host.root / "etc" / "swfbridge.env").write_text(
        host.render((DEPLOY / "swfbridge.env").read_text())
    )
    worker = Service(host, WORKER_UNIT)
    poller = Service(host, POLL_TEMPLATE, INSTANCE)
    try:
        processes.wait_for(
            lambda: " ready." in worker.output() or worker.process.poll() is not None,
            90,
            "the worker ready",
        )
        processes.wait_for(
            lambda: (
                "swfbridge poll starting" in poller.output() or poller.process.poll() is not None
            ),
            60,
            "the poller polling",
        )
        assert run_greeting(host.swf) == '"Hello, ops!"', worker.output() + poller.output()
    finally:
        poller_status = poller.stop()
        worker_status = worker.stop()

    # Exit 0: a clean stop, which neither Restart=on-failure nor Restart=always
    # counts as a failure; the poller logged its totals on the way out.
    assert poller_status == 0, poller.output()
    assert worker_status == 0, worker.output()
    assert "swfbridge poll stopped:" in poller.output()


def test_the_poll_unit_does_not_restart_a_poller_that_stopped_on_misconfiguration(
    host: Host,
) -> None:
    (host.root / "etc" / "swfbridge.env").write_text(
        host.render((DEPLOY / "swfbridge.env").read_text())
    )
    poller = Service(
        host, POLL_TEMPLATE, INSTANCE, extra_env={"SWFBRIDGE_DOMAIN": "no-such-domain"}
    )

    status = poller.process.wait(120)

    prevented = poller.service["RestartPreventExitStatus"].split()
    assert poller.service["Restart"] == "on-failure"
    assert str(status) in prevented, f"exit {status}, not in {prevented}:\n{poller.output()}"
    assert "does not exist" in poller.output()
