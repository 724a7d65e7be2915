"""On an SQS broker, pollers and workers refuse at start, in one line naming the
fix, what would run attempts twice or what SQS would refuse later."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import processes

DEAD_SQS = "sqs://@127.0.0.1:1"  # nothing listens: the refusals come before any call


def _env(**extra: str) -> dict[str, str]:
    env = processes.bridge_env(
        broker_url=DEAD_SQS, swf_endpoint="http://127.0.0.1:1", activities="tests.cli.activities"
    )
    env.pop("SWFBRIDGE_STATE_URL", None)
    env.update(extra)
    return env


def _poll(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swfbridge", "poll", "--domain", "d", "--task-list", "t", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_poller_on_sqs_without_a_state_store_refuses_to_start() -> None:
    line = _one_line(_poll(_env()))

    assert line.startswith("swfbridge: error: an SQS broker needs the Redis state store")
    assert "SWFBRIDGE_STATE_URL" in line


@pytest.mark.parametrize(
    "queue, why",
    [("q" * 81, "at most 80"), ("jobs for eu", "'jobs for eu'"), ("jobs.fifo", "FIFO")],
)
def test_a_poller_on_sqs_refuses_a_queue_sqs_would_refuse(queue: str, why: str) -> None:
    env = _env(SWFBRIDGE_STATE_URL="redis://127.0.0.1:1/0")

    line = _one_line(_poll(env, "--queue", queue))

    assert why in line


def test_a_worker_on_sqs_without_a_state_store_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exited") as exited:
        processes.start_worker(_env(), tmp_path).stop()

    output = str(exited.value)
    assert "swfbridge: error: an SQS broker needs the Redis state store" in output
    assert "SWFBRIDGE_STATE_URL" in output and "Traceback" not in output


def test_the_demo_on_sqs_without_a_state_store_refuses_to_start() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "swfbridge", "demo", "--broker", DEAD_SQS],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    line = _one_line(result)
    assert line.startswith("swfbridge: error: an SQS broker needs the Redis state store")
