"""Slots and claims in a real redis-server (swfbridge.state.store)."""

from __future__ import annotations

import uuid

import pytest

from swfbridge.state.store import BridgeState, Claim, StateConfig, StateUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(redis_url: str, clock: Clock) -> BridgeState:
    return BridgeState(
        config=StateConfig(url=redis_url, key_prefix=f"t-{uuid.uuid4().hex}", deadline_grace_s=5.0),
        clock=clock,
    )


def test_reserve_refuses_a_slot_once_the_limit_is_reached(state: BridgeState) -> None:
    first = state.reserve("d", "tl", limit=2, hold_s=70)
    second = state.reserve("d", "tl", limit=2, hold_s=70)
    assert first and second and first != second
    assert state.reserve("d", "tl", limit=2, hold_s=70) is None
    assert state.in_flight("d", "tl") == 2


def test_a_released_slot_can_be_taken_again(state: BridgeState) -> None:
    placeholder = state.reserve("d", "tl", limit=1, hold_s=70)
    assert placeholder is not None
    state.release("d", "tl", placeholder)
    assert state.reserve("d", "tl", limit=1, hold_s=70) is not None


def test_a_bound_slot_is_freed_by_the_attempt_id_the_worker_knows(
    state: BridgeState, clock: Clock
) -> None:
    placeholder = state.reserve("d", "tl", limit=1, hold_s=70)
    assert placeholder is not None
    state.bind("d", "tl", placeholder, attempt_id="swf-abc", deadline=clock.now + 30)
    assert state.holds("d", "tl", "swf-abc") and not state.holds("d", "tl", placeholder)
    state.release("d", "tl", "swf-abc")
    assert state.in_flight("d", "tl") == 0


def test_slots_of_a_dead_worker_heal_by_themselves_after_the_deadline_and_grace(
    state: BridgeState,
    clock: Clock,
) -> None:
    placeholder = state.reserve("d", "tl", limit=1, hold_s=70)
    assert placeholder is not None
    state.bind("d", "tl", placeholder, attempt_id="swf-dead", deadline=clock.now + 30)
    clock.now += 34  # before deadline + grace: still counted
    assert state.reserve("d", "tl", limit=1, hold_s=70) is None
    clock.now += 2  # past deadline + grace: pruned
    assert state.reserve("d", "tl", limit=1, hold_s=70) is not None


def test_a_placeholder_of_a_poller_that_died_mid_poll_expires_after_the_poll_window(
    state: BridgeState,
    clock: Clock,
) -> None:
    assert state.reserve("d", "tl", limit=1, hold_s=70) is not None
    clock.now += 71
    assert state.reserve("d", "tl", limit=1, hold_s=70) is not None


def test_task_lists_have_separate_slots(state: BridgeState) -> None:
    assert state.reserve("d", "one", limit=1, hold_s=70) is not None
    assert state.reserve("d", "two", limit=1, hold_s=70) is not None


def test_an_attempt_can_be_claimed_once_and_the_claim_outlives_the_run(
    state: BridgeState,
    clock: Clock,
) -> None:
    assert state.claim("swf-1", deadline=clock.now + 60, owner="w1")
    assert not state.claim("swf-1", deadline=clock.now + 60, owner="w2")
    assert state.claimed("swf-1")
    assert not state.claimed("swf-2")


def test_a_far_deadline_still_claims_once(state: BridgeState, clock: Clock) -> None:
    # Out-of-range PX used to be taken as "state unavailable", and the job ran unclaimed.
    assert state.claim("swf-far", deadline=1e300, owner="w1")
    assert not state.claim("swf-far", deadline=1e300, owner="w2")


def test_an_unreachable_redis_raises_state_unavailable() -> None:
    state = BridgeState(config=StateConfig(url="redis://127.0.0.1:1/0", socket_timeout_s=0.5))
    with pytest.raises(StateUnavailable, match="unavailable"):
        state.ping()
    with pytest.raises(StateUnavailable):
        state.reserve("d", "tl", limit=1, hold_s=70)


def test_a_non_redis_state_url_is_refused() -> None:
    with pytest.raises(ValueError, match="Redis URL"):
        StateConfig(url="amqp://guest:guest@localhost//")


def test_the_claim_says_whether_the_attempt_holds_a_slot(state: BridgeState, clock: Clock) -> None:
    placeholder = state.reserve("d", "tl", limit=2, hold_s=70)
    assert placeholder is not None
    state.bind("d", "tl", placeholder, attempt_id="swf-slotted", deadline=clock.now + 30)

    def claim(attempt_id: str, owner: str) -> Claim:
        return state.claim_attempt(
            attempt_id, deadline=clock.now + 30, owner=owner, domain="d", task_list="tl"
        )

    assert claim("swf-slotted", "w1") is Claim.TAKEN_WITH_SLOT
    assert claim("swf-slotted", "w2") is Claim.REFUSED
    assert claim("swf-free", "w1") is Claim.TAKEN
