"""Every command explains itself with --help, and bad flags or configuration give
one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest

from swfbridge.cli import build_parser
from tests.support import processes

COMMANDS = ["demo", "poll", "register", "status", "local-swf"]


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = processes.bridge_env(
        broker_url="redis://127.0.0.1:1/0", swf_endpoint="http://127.0.0.1:1", activities=""
    )
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "swfbridge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("swfbridge"), lines[0]
    return lines[0]


def test_every_command_is_listed_in_the_top_level_help() -> None:
    result = _cli("--help")

    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_describes_every_option(command: str) -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    options = [
        a
        for a in subparsers.choices[command]._actions  # type: ignore[attr-defined]
        if a.option_strings
    ]

    result = _cli(command, "--help")

    assert result.returncode == 0
    for action in options:
        assert action.help, f"{command} {action.option_strings} has no help"
        assert action.option_strings[-1] in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["nosuchcommand"], "invalid choice: 'nosuchcommand'"),
        (["poll", "--pollers", "many"], "argument --pollers: invalid int value: 'many'"),
        (["poll", "--domain", "d"], "--task-list is required"),
        (
            ["poll", "--domain", "d", "--task-list", "t", "--metrics-port", "70000"],
            "--metrics-port must be within 0-65535",
        ),
        (
            ["poll", "--domain", "d", "--task-list", "t", "--activities", "no.such.module"],
            "cannot import activity module 'no.such.module'",
        ),
        (
            [
                "poll",
                "--domain",
                "d",
                "--task-list",
                "t",
                "--metrics-port",
                "0",
                "--activities",
                "no.such.module",
            ],
            "cannot import activity module 'no.such.module'",
        ),
        (["register", "--domain", "d"], "--activities is required"),
        (["status", "--task-list", "t"], "--domain is required"),
        (["demo", "--timeout", "0"], "--timeout must be positive"),
        (["demo", "--concurrency", "x"], "invalid int value: 'x'"),
    ],
)
def test_bad_flags_and_config_give_one_clear_line(args: list[str], message: str) -> None:
    line = _one_clear_line(_cli(*args))

    assert message in line


def test_a_bad_environment_value_is_reported_like_a_bad_flag() -> None:
    line = _one_clear_line(
        _cli("poll", "--domain", "d", "--task-list", "t", env_extra={"SWFBRIDGE_POLLERS": "lots"})
    )

    assert "argument --pollers: invalid int value: 'lots'" in line


def test_a_metrics_port_in_use_is_one_line_not_a_crash() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _cli("poll", "--domain", "d", "--task-list", "t", "--metrics-port", str(port))

    assert "cannot serve metrics on 127.0.0.1:" in _one_clear_line(result)


def test_poll_on_a_domain_that_does_not_exist_fails_at_start_naming_the_fix(
    local_swf: Any,
) -> None:
    line = _one_clear_line(
        _cli(
            "poll",
            "--domain",
            "no-such-domain",
            "--task-list",
            "t",
            env_extra={"AWS_ENDPOINT_URL_SWF": local_swf.endpoint_url},
        )
    )

    assert "'no-such-domain' does not exist" in line and "--create-domain" in line


def test_poll_without_a_region_fails_at_start_naming_the_fix(local_swf: Any) -> None:
    env = {
        "AWS_DEFAULT_REGION": "",
        "AWS_REGION": "",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_ENDPOINT_URL_SWF": local_swf.endpoint_url,
    }
    line = _one_clear_line(_cli("poll", "--domain", "d", "--task-list", "t", env_extra=env))

    assert "no AWS region" in line and "AWS_DEFAULT_REGION" in line


def test_version_prints_the_package_version() -> None:
    from swfbridge import __version__

    result = _cli("--version")

    assert result.returncode == 0 and result.stdout.strip() == f"swfbridge {__version__}"


def test_register_imports_an_activity_module_from_the_current_directory(
    local_swf: Any, tmp_path: Any
) -> None:
    from pathlib import Path

    (tmp_path / "here_activities.py").write_text(
        "from swfbridge import Activity, activity\n\n"
        "@activity('1', task_list='t', start_to_close=60)\n"
        "class HereOnly(Activity):\n"
        "    def run(self) -> None:\n"
        "        pass\n"
    )
    env = processes.bridge_env(
        broker_url="redis://127.0.0.1:1/0", swf_endpoint=local_swf.endpoint_url, activities=""
    )
    script = Path(sys.executable).with_name("swfbridge")  # the console script, not -m
    result = subprocess.run(
        [
            str(script),
            "register",
            "--domain",
            "here-domain",
            "--create-domain",
            "--activities",
            "here_activities",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "HereOnly" in result.stdout + result.stderr


def test_more_poll_threads_than_the_broker_pool_holds_are_refused_at_start() -> None:
    result = _cli("poll", "--domain", "d", "--task-list", "t", "--pollers", "7")
    assert result.returncode != 0
    assert "--pollers must be within 1-6, got 7" in result.stderr
    assert "run another swfbridge poll process" in result.stderr


def test_a_bad_swf_calls_setting_is_one_line_for_the_poller_and_the_worker() -> None:
    bad = {"SWFBRIDGE_SWF_CALLS": "fast"}
    poller = _one_clear_line(_cli("poll", "--domain", "d", "--task-list", "t", env_extra=bad))
    env = processes.bridge_env(
        broker_url="redis://127.0.0.1:1/0", swf_endpoint="http://127.0.0.1:1", activities=""
    )
    worker_app = subprocess.run(
        [sys.executable, "-c", "import swfbridge.celery"],
        env={**env, **bad},
        capture_output=True,
        text=True,
        timeout=60,
    )

    for line in (poller, _one_clear_line(worker_app)):
        assert "SWFBRIDGE_SWF_CALLS: SWF calls must be one of direct, boto3, got 'fast'" in line
