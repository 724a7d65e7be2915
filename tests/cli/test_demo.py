"""``swfbridge demo`` end to end, as a newcomer runs it (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import processes

DEMO_TIMEOUT_S = 150


def _run_demo(*args: str, broker_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CELERY_"))}
    env["PYTHONPATH"] = str(processes.REPO_ROOT)
    if broker_url is not None:
        env["CELERY_BROKER_URL"] = broker_url
    return subprocess.run([sys.executable, "-m", "swfbridge", "demo", *args], env=env,
                          capture_output=True, text=True, timeout=DEMO_TIMEOUT_S)


def _assert_demo_showed_everything(result: subprocess.CompletedProcess[str]) -> None:
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "(all as expected)" in out
    for line in ("scheduled        hello", "running          transcode",
                 "heartbeat        transcode  progress", "cancel requested backup",
                 "done             charge     failed: 'card declined'",
                 "done             backup     canceled", "workflow                    completed",
                 "8 dispatched to Celery"):
        assert line in out, f"missing {line!r} in:\n{out}"
    assert "Traceback" not in result.stderr, result.stderr


def test_demo_runs_the_example_workflow_on_the_embedded_broker_with_no_server() -> None:
    result = _run_demo("--broker", "embedded")

    assert "broker filesystem://" in result.stdout
    _assert_demo_showed_everything(result)


@pytest.mark.slow
def test_demo_uses_the_redis_named_by_celery_broker_url() -> None:
    with processes.redis_server() as url:
        result = _run_demo(broker_url=url)

    assert f"broker {url} (CELERY_BROKER_URL)" in result.stdout
    _assert_demo_showed_everything(result)


def test_demo_rejects_a_bad_concurrency_in_one_line() -> None:
    result = _run_demo("--concurrency", "0")

    assert result.returncode == 2
    assert result.stderr.strip() == "swfbridge: error: --concurrency must be at least 1"
