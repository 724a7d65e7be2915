"""A real worker says at start what it serves, and refuses to start misconfigured."""

from __future__ import annotations

from pathlib import Path

import pytest

from swfbridge.testing import LocalSWF
from tests.support import processes


def _env(
    local_swf: LocalSWF, redis_url: str, activities: str = "tests.cli.activities", **extra: str
) -> dict[str, str]:
    env = processes.bridge_env(
        broker_url=redis_url, swf_endpoint=local_swf.endpoint_url, activities=activities
    )
    env.update(extra)
    return env


def _refused(env: dict[str, str], tmp_path: Path) -> str:
    with pytest.raises(RuntimeError, match="exited") as exited:
        processes.start_worker(env, tmp_path).stop()
    return str(exited.value)


def test_a_worker_logs_the_activity_types_it_serves(local_swf: LocalSWF, tmp_path: Path) -> None:
    with processes.redis_server() as redis_url:
        worker = processes.start_worker(_env(local_swf, redis_url), tmp_path)
        try:
            assert "serving activity types: " in worker.output()
            assert "Nap@1" in worker.output()
        finally:
            worker.stop()


def test_a_worker_with_no_activities_warns_naming_swfbridge_activities(
    local_swf: LocalSWF, tmp_path: Path
) -> None:
    with processes.redis_server() as redis_url:
        worker = processes.start_worker(_env(local_swf, redis_url, activities=""), tmp_path)
        try:
            assert "WARNING" in worker.output() and "runs no activities" in worker.output()
            assert "SWFBRIDGE_ACTIVITIES" in worker.output()
        finally:
            worker.stop()


def test_a_worker_without_a_region_refuses_to_start(local_swf: LocalSWF, tmp_path: Path) -> None:
    with processes.redis_server() as redis_url:
        output = _refused(
            _env(local_swf, redis_url, AWS_DEFAULT_REGION="", AWS_CONFIG_FILE="/nonexistent"),
            tmp_path,
        )
    assert "no AWS region" in output and "AWS_DEFAULT_REGION" in output


def test_a_worker_whose_app_refuses_json_refuses_to_start(
    local_swf: LocalSWF, tmp_path: Path
) -> None:
    with processes.redis_server() as redis_url:
        output = _refused(
            _env(local_swf, redis_url, CELERY_CONFIG_MODULE="tests.cli.yaml_only_config"), tmp_path
        )
    assert "accept_content" in output and "add 'json'" in output


def test_a_worker_module_typo_is_one_line_naming_the_module(
    local_swf: LocalSWF, tmp_path: Path
) -> None:
    with processes.redis_server() as redis_url:
        output = _refused(
            _env(local_swf, redis_url, activities="tests.cli.no_such_module"), tmp_path
        )
    assert "swfbridge: error: cannot import activity module 'tests.cli.no_such_module'" in output
    assert "Traceback" not in output
