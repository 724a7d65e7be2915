"""``swfbridge demo`` end to end, as a newcomer runs it (a subprocess)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import processes, sqs

DEMO_TIMEOUT_S = 150


def _run_demo(
    *args: str, broker_url: str | None = None, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CELERY_"))}
    env["PYTHONPATH"] = str(processes.REPO_ROOT)
    env.update(env_extra or {})
    if broker_url is not None:
        env["CELERY_BROKER_URL"] = broker_url
    return subprocess.run(
        [sys.executable, "-m", "swfbridge", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
    )


def _assert_demo_showed_everything(result: subprocess.CompletedProcess[str]) -> None:
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "(all as expected)" in out
    for line in (
        "scheduled        hello",
        "running          transcode",
        "heartbeat        transcode  progress",
        "cancel requested backup",
        "done             charge     failed: 'card declined'",
        "done             backup     canceled",
        "workflow                    completed",
        "8 dispatched to Celery",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"
    assert "Traceback" not in result.stderr, result.stderr


def test_demo_runs_the_example_workflow_on_the_embedded_broker_with_no_server() -> None:
    result = _run_demo("--broker", "embedded")

    assert "broker filesystem://" in result.stdout
    _assert_demo_showed_everything(result)


@dataclass(frozen=True)
class DemoOnRedis:
    url: str
    result: subprocess.CompletedProcess[str]
    binding_keys: list[str]  # kombu's binding keys left in that Redis afterwards


@pytest.fixture(scope="module")
def demo_on_redis() -> DemoOnRedis:
    """One ``swfbridge demo`` run on a Redis named by CELERY_BROKER_URL, and what
    it left in that Redis; two tests read it (a demo run takes ~10 s)."""
    import redis

    with processes.redis_server() as url:
        result = _run_demo(broker_url=url)
        keys = sorted(k.decode() for k in redis.Redis.from_url(url).keys("_kombu.binding*"))
    return DemoOnRedis(url, result, keys)


@pytest.mark.slow
def test_demo_uses_the_redis_named_by_celery_broker_url(demo_on_redis: DemoOnRedis) -> None:
    result = demo_on_redis.result

    assert f"broker {demo_on_redis.url} (CELERY_BROKER_URL)" in result.stdout
    _assert_demo_showed_everything(result)


@pytest.mark.slow
def test_demo_runs_on_a_local_sqs_with_its_claims_in_redis() -> None:
    with sqs.local_sqs() as endpoint, processes.redis_server() as state_url:
        # Credentials in the URL: the demo's worker gets made-up AWS settings of its own.
        broker = "sqs://testing:testing@" + endpoint.split("://", 1)[1]
        result = _run_demo("--broker", broker, env_extra={"SWFBRIDGE_STATE_URL": state_url})

    assert "broker sqs://testing:***@" in result.stdout
    _assert_demo_showed_everything(result)


def test_demo_rejects_a_bad_concurrency_in_one_line() -> None:
    result = _run_demo("--concurrency", "0")

    assert result.returncode == 2
    assert result.stderr.strip() == "swfbridge: error: --concurrency must be at least 1"


def _processes_working_in(directory: Path) -> list[int]:
    """Pids of the processes whose working directory is inside ``directory``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if Path(os.readlink(proc / "cwd")).is_relative_to(directory):
                    found.append(int(proc.name))
    return found


def test_demo_stopped_by_sigterm_stops_its_worker_and_removes_its_directory(
    tmp_path: Path,
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CELERY_"))}
    env.update(PYTHONPATH=str(processes.REPO_ROOT), TMPDIR=str(scratch))
    out = tmp_path / "demo.out"
    with open(out, "wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "swfbridge", "demo", "--broker", "embedded"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        processes.wait_for(
            lambda: "started          worker" in out.read_text() or demo.poll() is not None,
            120,
            "the demo's worker started",
        )
        assert _processes_working_in(scratch), out.read_text()  # the worker runs there

        demo.send_signal(signal.SIGTERM)
        status = demo.wait(60)
    finally:
        if demo.poll() is None:
            demo.kill()

    assert status == 128 + signal.SIGTERM, out.read_text()
    assert "stopped by SIGTERM; cleaned up" in out.read_text()
    processes.wait_for(lambda: not _processes_working_in(scratch), 30, "no worker left")
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
def test_demo_leaves_no_kombu_binding_keys_in_the_redis_it_used(
    demo_on_redis: DemoOnRedis,
) -> None:
    result = demo_on_redis.result

    assert result.returncode == 0, result.stdout + result.stderr
    assert [k for k in demo_on_redis.binding_keys if "swfbridge-demo" in k] == []


def test_demo_with_its_broker_down_says_what_it_waits_for_and_gives_up_at_timeout() -> None:
    url = f"redis://127.0.0.1:{processes.free_port()}/0"  # nothing listens there

    result = _run_demo("--timeout", "5", broker_url=url)

    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"waiting for the Celery worker to connect to the broker at {url} and be ready (up to 5s)"
    ) in result.stdout
    assert (
        f"swfbridge: error: the Celery worker was not ready after 5s: is the broker at {url} up?"
    ) in result.stderr
