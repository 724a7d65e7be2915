"""examples/deploy/compose.yaml cannot run here (no Docker daemon): it must at least run
the same commands, with the same stop signals and grace periods, as the systemd
units that the other tests run."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from tests.deploy.conftest import DEPLOY
from tests.deploy.test_systemd_units import expand, parse_unit, seconds


def _unit(name: str) -> dict[str, str]:
    return parse_unit((DEPLOY / "systemd" / name).read_text())["Service"]


def _command(exec_start: str, instance: str = "") -> list[str]:
    argv = shlex.split(expand(exec_start, instance))
    return [Path(argv[0]).name, *argv[1:]]


def test_the_compose_services_run_the_systemd_units_commands_and_stop_alike() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    pairs = [
        (services["worker"], _unit("swfbridge-worker.service"), ""),
        (services["poll-shop"], _unit("swfbridge-poll@.service"), "shop"),
    ]

    for service, unit, instance in pairs:
        assert service["command"] == _command(unit["ExecStart"], instance)
        assert service["stop_signal"] == unit["KillSignal"]
        assert seconds(service["stop_grace_period"]) == seconds(unit["TimeoutStopSec"])
        assert service["env_file"] == "swfbridge.env"
    assert services["worker"]["restart"] == "unless-stopped"
    assert services["poll-shop"]["restart"] == "on-failure"
