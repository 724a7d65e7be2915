"""The poller's Prometheus endpoint, scraped while real tasks flow through it."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from swfbridge.testing import LocalSWF, ScheduledActivity, run_activities
from tests.integration.activities import TASK_LIST
from tests.support import processes

ACTIVITIES = "tests.integration.activities"


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(answer.read().decode())


def _value(text: str, sample: str) -> float:
    """The value of one sample (``name{labels}``), 0 if absent."""
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.fixture
def metered_bridge(
    request: pytest.FixtureRequest, local_swf: LocalSWF, tmp_path: Path
) -> Iterator[tuple[str, int, int]]:
    """A worker and a poller serving metrics, on a fresh domain.

    Yields (domain, poller metrics port, worker metrics port). Parametrized
    indirectly, the parameter is the worker's SWFBRIDGE_ACTIVITIES.
    """
    worker_activities = getattr(request, "param", ACTIVITIES)
    domain = f"metrics-{uuid.uuid4().hex[:8]}"
    port = processes.free_port()
    with processes.redis_server() as redis_url:
        env = processes.bridge_env(
            broker_url=redis_url, swf_endpoint=local_swf.endpoint_url, activities=ACTIVITIES
        )
        # Picked once redis-server holds its port (free ports come in sequence).
        worker_port = processes.free_port()
        worker_env = {
            **env,
            "SWFBRIDGE_WORKER_METRICS_PORT": str(worker_port),
            "SWFBRIDGE_ACTIVITIES": worker_activities,
        }
        registered = processes.run_cli(env, "register", "--domain", domain, "--create-domain")
        assert registered.returncode == 0, registered.stdout + registered.stderr
        worker = processes.start_worker(worker_env, tmp_path)
        poller = processes.start_poller(
            env, tmp_path, domain=domain, task_list=TASK_LIST, extra=["--metrics-port", str(port)]
        )
        try:
            processes.wait_for(
                lambda: "metrics at http://127.0.0.1:" in poller.output(), 10, "metrics endpoint"
            )
            yield domain, port, worker_port
        finally:
            processes.stop_all(poller, worker)


def test_metrics_count_polls_dispatches_swf_latency_and_throttles_as_tasks_flow(
    metered_bridge: tuple[str, int, int], local_swf: LocalSWF
) -> None:
    domain, port, worker_port = metered_bridge
    before = _scrape(port)
    assert _value(before, "swfbridge_tasks_dispatched_total") == 0

    outcomes = run_activities(
        local_swf.client(),
        domain=domain,
        task_list=TASK_LIST,
        timeout_s=60,
        activities=[
            ScheduledActivity(f"add-{n}", "Add", "1", input=json.dumps([[n], {}])) for n in range(3)
        ],
    )
    assert {o.status for o in outcomes.values()} == {"completed"}

    after = _scrape(port)
    assert _value(after, "swfbridge_tasks_dispatched_total") == 3
    assert _value(after, "swfbridge_polls_total") >= 3
    polls_timed = 'swfbridge_swf_call_seconds_count{operation="poll_for_activity_task"}'
    assert _value(after, polls_timed) >= 3
    assert _value(
        after, 'swfbridge_swf_call_seconds_bucket{operation="poll_for_activity_task",le="+Inf"}'
    ) == _value(after, polls_timed)
    # The worker's own endpoint: each attempt's duration, by activity type (recorded
    # just after the outcome is reported, so it may trail the decider a little).
    durations = 'swfbridge_activity_duration_seconds_count{type="Add@1"}'
    processes.wait_for(
        lambda: _value(_scrape(worker_port), durations) == 3,
        10,
        "three durations on the worker's endpoint",
    )
    worker_metrics = _scrape(worker_port)
    assert _value(worker_metrics, 'swfbridge_activity_duration_seconds_sum{type="Add@1"}') > 0
    assert (
        _value(worker_metrics, 'swfbridge_worker_attempts_total{type="Add@1",outcome="completed"}')
        == 3
    )

    throttles = 'swfbridge_swf_throttles_total{operation="poll_for_activity_task"}'
    local_swf.inject_faults(operations=["PollForActivityTask"], kind="throttle")
    try:
        processes.wait_for(
            lambda: _value(_scrape(port), throttles) >= 1, 30, "a throttled poll counted"
        )
    finally:
        local_swf.clear_faults()
    throttled = _scrape(port)
    assert (
        _value(
            throttled,
            'swfbridge_swf_call_errors_total{operation="poll_for_activity_task",error="Throttled"}',
        )
        >= 1
    )
    assert _value(throttled, "swfbridge_poll_errors_total") >= 1
    assert _value(throttled, "swfbridge_tasks_dispatched_total") == 3


def test_worker_metrics_label_only_types_the_worker_runs(
    local_swf: LocalSWF, tmp_path: Path
) -> None:
    from celery import Celery

    from swfbridge.wire.job import TASK_NAME

    with processes.redis_server() as redis_url:
        worker_port = processes.free_port()
        env = processes.bridge_env(
            broker_url=redis_url, swf_endpoint=local_swf.endpoint_url, activities=ACTIVITIES
        )
        worker = processes.start_worker(
            {**env, "SWFBRIDGE_WORKER_METRICS_PORT": str(worker_port)}, tmp_path
        )
        try:
            app = Celery("sender", broker=redis_url, set_as_current=False)
            job = {
                "v": 1,
                "task_token": "tok",
                "domain": "d",
                "task_list": "tl",
                "activity_id": "a",
                "activity_version": "1",
                "workflow_id": "w",
                "run_id": "r",
                "started_event_id": 1,
                "input": None,
                "polled_at": 1.0,
            }
            for n in range(4):
                # Valid jobs of made-up types, and malformed ones naming made-up types.
                app.send_task(
                    TASK_NAME, args=[{**job, "activity_name": f"Ghost{n}", "started_event_id": n}]
                )
                app.send_task(TASK_NAME, args=[{**job, "activity_name": f"Bad{n}", "v": 99}])
            unknown = 'swfbridge_worker_attempts_total{type="unknown",outcome="report_failed"}'
            malformed = 'swfbridge_worker_attempts_total{type="malformed",outcome="malformed"}'
            processes.wait_for(
                lambda: (
                    _value(_scrape(worker_port), unknown) == 4
                    and _value(_scrape(worker_port), malformed) == 4
                ),
                30,
                "eight attempts counted",
            )
            text = _scrape(worker_port)
            assert "Ghost" not in text and "Bad" not in text
            # Celery's own line for each job says what SWF got, not just "failed".
            assert "succeeded in" in worker.output()
            assert "'report_failed: SWF got nothing" in worker.output()
        finally:
            worker.stop()


# Every respond try fails here: three tries (tests/cli/few_respond_tries.py), not ten.
@pytest.mark.parametrize(
    "metered_bridge", [f"{ACTIVITIES},tests.cli.few_respond_tries"], indirect=True, ids=["3 tries"]
)
def test_an_answer_swf_never_got_is_counted_report_failed_not_completed(
    metered_bridge: tuple[str, int, int], local_swf: LocalSWF
) -> None:
    from swfbridge.testing import start_activities

    domain, _, worker_port = metered_bridge
    local_swf.inject_faults(operations=["RespondActivityTaskCompleted"], kind="error")
    try:
        start_activities(
            local_swf.client(),
            domain=domain,
            task_list=TASK_LIST,
            timeout_s=60,
            activities=[ScheduledActivity("add-lost", "Add", "1", input=json.dumps([[1], {}]))],
        )
        failed = 'swfbridge_worker_attempts_total{type="Add@1",outcome="report_failed"}'
        processes.wait_for(
            lambda: _value(_scrape(worker_port), failed) == 1, 60, "the lost answer counted"
        )
    finally:
        local_swf.clear_faults()
    assert (
        _value(
            _scrape(worker_port),
            'swfbridge_worker_attempts_total{type="Add@1",outcome="completed"}',
        )
        == 0
    )
