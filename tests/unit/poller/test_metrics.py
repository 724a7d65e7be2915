"""Metrics: exposition format, counting bridge failures by cause, the HTTP endpoint."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest

from swfbridge.aws.swf import ServiceUnavailable, Throttled
from swfbridge.poller.metrics import Histogram, MeteredSwfClient, MetricsServer, PollerMetrics
from swfbridge.wire.outcome import BridgeCause, bridge_failure


class _Boto:
    """Answers every call with an empty response, recording it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> dict[str, Any]:
            self.calls.append(operation)
            return {}

        return call


class _Poller:
    counts = {"polls": 7, "empty_polls": 4, "dispatched": 3, "slot_wait_ms": 1500}

    def in_flight(self) -> int:
        return 2


def test_poller_totals_are_read_at_scrape_time_and_slot_wait_is_in_seconds() -> None:
    metrics = PollerMetrics()
    metrics.watch(_Poller())

    text = metrics.render()

    assert "swfbridge_polls_total 7\n" in text
    assert "swfbridge_empty_polls_total 4\n" in text
    assert "swfbridge_tasks_dispatched_total 3\n" in text
    assert "swfbridge_slot_wait_seconds_total 1.5\n" in text
    assert "swfbridge_jobs_in_flight 2\n" in text
    assert "# TYPE swfbridge_polls_total counter" in text


def test_in_flight_is_left_out_when_the_poller_does_not_know_it() -> None:
    class Plain:
        counts: dict[str, int] = {}

        def in_flight(self) -> None:
            return None

    metrics = PollerMetrics()
    metrics.watch(Plain())

    assert "swfbridge_jobs_in_flight" not in metrics.render()


def test_swf_calls_are_timed_and_errors_counted_by_type_with_throttles_apart() -> None:
    metrics = PollerMetrics()

    metrics.observe_swf_call("poll_for_activity_task", 0.02, None)
    metrics.observe_swf_call(
        "poll_for_activity_task", 0.2, Throttled("op", "ThrottlingException", "")
    )
    metrics.observe_swf_call(
        "respond_activity_task_completed", 0.01, ServiceUnavailable("op", "InternalFailure", "")
    )
    text = metrics.render()

    assert 'swfbridge_swf_call_seconds_count{operation="poll_for_activity_task"} 2' in text
    assert (
        'swfbridge_swf_call_errors_total{operation="poll_for_activity_task",error="Throttled"} 1'
    ) in text
    assert (
        'swfbridge_swf_call_errors_total{operation="respond_activity_task_completed",'
        'error="ServiceUnavailable"} 1'
    ) in text
    assert 'swfbridge_swf_throttles_total{operation="poll_for_activity_task"} 1' in text
    assert 'swfbridge_swf_throttles_total{operation="respond_activity_task_completed"}' not in text


def test_histogram_buckets_are_cumulative_and_end_with_inf() -> None:
    histogram = Histogram("h_seconds", "help", ("op",), buckets=(0.1, 1.0))
    for value in (0.05, 0.5, 0.7, 5.0):
        histogram.observe(value, "x")

    lines = histogram.render()

    assert 'h_seconds_bucket{op="x",le="0.1"} 1' in lines
    assert 'h_seconds_bucket{op="x",le="1"} 3' in lines
    assert 'h_seconds_bucket{op="x",le="+Inf"} 4' in lines
    assert 'h_seconds_count{op="x"} 4' in lines
    assert 'h_seconds_sum{op="x"} 6.25' in lines


def test_label_values_are_escaped() -> None:
    metrics = PollerMetrics()
    metrics.observe_bridge_failure('a"b\\c\nd')

    assert 'cause="a\\"b\\\\c\\nd"' in metrics.render()


def test_metered_client_counts_the_bridge_failures_it_reports_by_cause() -> None:
    metrics = PollerMetrics()
    boto = _Boto()
    swf = MeteredSwfClient(metrics=metrics, client=boto)
    failure = bridge_failure(BridgeCause.ENQUEUE_FAILED, "broker down")

    swf.call(
        "respond_activity_task_failed",
        taskToken="t",
        reason=failure.reason,
        details=failure.details,
    )
    swf.call("respond_activity_task_failed", taskToken="t", reason="ValueError: x", details="{}")
    swf.call(
        "respond_activity_task_failed", taskToken="t", reason="swfbridge: odd", details="not json"
    )

    assert metrics.failed_by_bridge.value("enqueue_failed") == 1
    assert metrics.failed_by_bridge.value("unknown") == 1
    assert boto.calls == ["respond_activity_task_failed"] * 3
    assert (
        'swfbridge_swf_call_seconds_count{operation="respond_activity_task_failed"} 3'
        in metrics.render()
    )


def test_metrics_server_serves_metrics_on_loopback_and_404_elsewhere() -> None:
    server = MetricsServer(render=lambda: "x_total 1\n").start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url, timeout=5) as answer:
            assert answer.read() == b"x_total 1\n"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url.replace("/metrics", "/other"), timeout=5)
        assert missing.value.code == 404
    finally:
        server.stop()


def test_a_failing_render_answers_500_and_the_server_keeps_serving() -> None:
    calls = {"n": 0}

    def render() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return "ok 1\n"

    server = MetricsServer(render=render).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(server.url, timeout=5)
        assert failed.value.code == 500
        with urllib.request.urlopen(server.url, timeout=5) as answer:
            assert answer.read() == b"ok 1\n"
    finally:
        server.stop()


def test_worker_totals_of_every_pool_process_are_summed_and_a_torn_file_is_skipped(
    tmp_path: Any,
) -> None:
    from swfbridge.worker.metrics import _ProcessTotals, render_directory

    totals = _ProcessTotals(tmp_path)
    totals.start("swf-1")
    totals.finish("swf-1", "Add@1", "completed")
    totals.finish("swf-never-started", "Add@1", "completed")  # no prerun seen: not counted
    (tmp_path / "99999.json").write_text(
        '{"durations": {"Add@1": {"buckets": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], '
        '"sum": 0.005}}, "outcomes": {"Add@1": {"completed": 1, "duplicate": 2}}}'
    )
    (tmp_path / "88888.json").write_text('{"Add@1": ')  # being replaced

    text = render_directory(tmp_path)

    assert 'swfbridge_activity_duration_seconds_count{type="Add@1"} 2' in text
    assert 'swfbridge_activity_duration_seconds_bucket{type="Add@1",le="+Inf"} 2' in text
    assert "# TYPE swfbridge_activity_duration_seconds histogram" in text
    assert 'swfbridge_worker_attempts_total{type="Add@1",outcome="completed"} 2' in text
    assert 'swfbridge_worker_attempts_total{type="Add@1",outcome="duplicate"} 2' in text
