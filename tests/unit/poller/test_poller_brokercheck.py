"""Start-up warnings about broker settings that break once-only runs."""

from __future__ import annotations

from swfbridge.worker.brokercheck import broker_warnings

SAFE = {
    "broker_url": "redis://localhost:6379/0",
    "worker_prefetch_multiplier": 1,
    "accept_content": ["json"],
}


def test_safe_redis_settings_give_no_warning() -> None:
    assert broker_warnings(SAFE, longest_start_to_close_s=300) == []


def test_a_redis_visibility_timeout_shorter_than_the_longest_start_to_close_is_flagged() -> None:
    conf = {**SAFE, "broker_transport_options": {"visibility_timeout": 600}}
    [warning] = broker_warnings(conf, longest_start_to_close_s=7200)
    assert "visibility_timeout (600s)" in warning and "(7200s)" in warning


def test_the_default_redis_visibility_timeout_is_flagged_for_activities_over_an_hour() -> None:
    [warning] = broker_warnings(SAFE, longest_start_to_close_s=4000)
    assert "3600s" in warning


def test_rabbitmq_consumer_timeout_is_flagged_for_activities_over_thirty_minutes() -> None:
    conf = {**SAFE, "broker_url": "amqp://guest@localhost//"}
    assert broker_warnings(conf, longest_start_to_close_s=600) == []
    [warning] = broker_warnings(conf, longest_start_to_close_s=3600)
    assert "consumer_timeout" in warning


def test_prefetch_above_one_and_pickle_are_flagged() -> None:
    conf = {**SAFE, "worker_prefetch_multiplier": 4, "accept_content": ["json", "pickle"]}
    warnings = broker_warnings(conf, longest_start_to_close_s=60)
    assert any("worker_prefetch_multiplier is 4" in w for w in warnings)
    assert any("pickle" in w for w in warnings)
