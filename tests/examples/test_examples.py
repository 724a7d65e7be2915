"""Every example runs as its README says (``python -m examples.<name>``) and
prints the result it promises. They use the embedded broker: no server needed."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from tests.support.processes import REPO_ROOT

EXAMPLE_TIMEOUT_S = 150


def _run_example(name: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CELERY_"))}
    env.update(SWFBRIDGE_EXAMPLE_BROKER="embedded", PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run(
        [sys.executable, "-m", f"examples.{name}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("result: ")]
    assert lines, result.stdout
    return lines[-1].removeprefix("result: ")


def test_hello_world_returns_the_greeting() -> None:
    assert _run_example("hello_world") == "hello, world!"


def test_fan_out_runs_forty_activities_and_sums_their_results() -> None:
    assert _run_example("fan_out") == "sum of squares 1..40 = 22140"


def test_progress_reports_heartbeats_and_completes() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CELERY_"))}
    env.update(SWFBRIDGE_EXAMPLE_BROKER="embedded", PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "examples.progress"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT_S,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    progress = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("heartbeat from encode: {'chunk': ")
    ]
    assert len(progress) >= 2, result.stdout
    assert "result: {'video': 'talk.mp4', 'encoded': 'talk.mp4.webm'}" in result.stdout


def test_cancellation_ends_the_running_activity_canceled() -> None:
    assert _run_example("cancellation").startswith("canceled")


def test_retry_in_decider_retries_the_transient_failures_then_completes() -> None:
    result = ast.literal_eval(_run_example("retry_in_decider"))

    assert result == {
        "closed": "CompleteWorkflowExecution",
        "attempts": 3,
        "failures": [
            "TemporaryError: warehouse busy (attempt 1)",
            "TemporaryError: warehouse busy (attempt 2)",
        ],
    }


def test_retry_policy_does_not_retry_bad_input_or_bugs() -> None:
    from examples.retry_in_decider import should_retry

    assert should_retry("TemporaryError: busy", '{"error_type": "examples.x.TemporaryError"}')
    assert should_retry("swfbridge: could not enqueue", '{"cause": "enqueue_failed"}')
    assert not should_retry(
        "swfbridge: input does not match", '{"cause": "input_signature_mismatch"}'
    )
    assert not should_retry("KeyError: 'sku'", '{"error_type": "KeyError"}')
    assert not should_retry("card declined", "not json")


def test_existing_celery_task_completes_the_activity_and_its_exception_fails_it() -> None:
    pytest.importorskip(
        "swfbridge.activities.task_map", reason="needs existing-Celery-task support"
    )
    result = ast.literal_eval(_run_example("existing_celery_task"))

    assert result == {
        "tax-ok": ("completed", {"net": 100.0, "gross": 120.0}),
        "tax-bad": ("failed", "ValueError: negative amount: -5.0"),
    }


def test_async_typed_quotes_the_basket_with_typed_values() -> None:
    assert _run_example("async_typed") == "{'total_cents': 230, 'lines': 2}"
