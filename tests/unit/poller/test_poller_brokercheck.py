"""Start-up warnings about broker settings that break once-only runs."""

from __future__ import annotations

from typing import Any

from swfbridge.worker.brokercheck import (
    REDIS_REDELIVERY_OPTIONS,
    apply_redelivery_defaults,
    broker_warnings,
    redis_redelivery_s,
)

SAFE: dict[str, Any] = {
    "broker_url": "redis://localhost:6379/0",
    "broker_transport_options": dict(REDIS_REDELIVERY_OPTIONS),
    "worker_prefetch_multiplier": 1,
    "accept_content": ["json"],
}


def test_swfbridge_redis_defaults_give_no_warning_for_activities_of_a_minute_or_more() -> None:
    assert broker_warnings(SAFE, longest_start_to_close_s=7200, shortest_start_to_close_s=60) == []


def test_long_activities_no_longer_ask_for_a_long_visibility_timeout_when_claims_exist() -> None:
    assert broker_warnings(SAFE, longest_start_to_close_s=7200, has_unbounded_activity=True) == []


def test_kombus_default_sweep_makes_redelivery_wait_visibility_plus_a_hundred_seconds() -> None:
    assert redis_redelivery_s({}) == 3600 + 100
    assert redis_redelivery_s(REDIS_REDELIVERY_OPTIONS) == 10 + 2


def test_swfbridge_redis_defaults_bring_reserved_jobs_back_within_a_15_s_start_to_close() -> None:
    # The soak's quickest activities: 30 s + 5 s lost jobs a killed worker held.
    assert broker_warnings(SAFE, longest_start_to_close_s=60, shortest_start_to_close_s=15) == []


def test_redelivery_slower_than_the_shortest_start_to_close_is_flagged() -> None:
    conf = {**SAFE, "broker_transport_options": {"visibility_timeout": 3600}}
    [warning] = broker_warnings(conf, longest_start_to_close_s=600, shortest_start_to_close_s=300)
    assert "3700s" in warning and "(300s)" in warning and "'visibility_timeout': 100" in warning


def test_a_short_visibility_timeout_without_claims_is_flagged() -> None:
    [warning] = broker_warnings(
        SAFE, longest_start_to_close_s=600, shortest_start_to_close_s=60, has_claims=False
    )
    assert "SWFBRIDGE_STATE_URL" in warning


def test_defaults_fill_only_what_the_app_left_unset_and_only_on_redis() -> None:
    conf: dict[str, Any] = {
        "broker_url": "redis://x/0",
        "broker_transport_options": {"visibility_timeout": 7},
    }
    apply_redelivery_defaults(conf)
    assert conf["broker_transport_options"] == {**REDIS_REDELIVERY_OPTIONS, "visibility_timeout": 7}
    amqp: dict[str, Any] = {"broker_url": "amqp://guest@localhost//"}
    apply_redelivery_defaults(amqp)
    assert "broker_transport_options" not in amqp


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
