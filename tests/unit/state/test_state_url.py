"""Where slots and claims live, decided in one place."""

from __future__ import annotations

from swfbridge.state.store import state_url


def test_an_explicit_state_url_wins_over_the_broker() -> None:
    assert state_url("redis://state/1", "redis://broker/0") == "redis://state/1"


def test_a_redis_broker_holds_the_state_when_none_is_given() -> None:
    assert state_url(None, "rediss://broker/0") == "rediss://broker/0"


def test_a_broker_that_is_not_redis_holds_no_state() -> None:
    assert state_url(None, "amqp://guest@rabbit//") is None
    assert state_url("", None) is None
