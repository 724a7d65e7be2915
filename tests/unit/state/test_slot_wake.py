"""A freed slot wakes one poll thread waiting for it (real Redis)."""

from __future__ import annotations

import threading
import uuid

from swfbridge.state.store import BridgeState, StateConfig


def _state(redis_url: str) -> BridgeState:
    return BridgeState(config=StateConfig(url=redis_url, key_prefix=f"t-{uuid.uuid4().hex}"))


def test_a_release_wakes_a_thread_waiting_for_a_slot(redis_url: str) -> None:
    state = _state(redis_url)
    placeholder = state.reserve("d", "tl", limit=1, hold_s=60)
    assert placeholder is not None
    assert state.reserve("d", "tl", limit=1, hold_s=60) is None  # full
    woken: list[bool] = []
    waiter = threading.Thread(
        target=lambda: woken.append(state.wait_for_free("d", "tl", timeout_s=30))
    )
    waiter.start()
    _state_sharing(redis_url, state).release("d", "tl", placeholder)  # another process's call
    waiter.join(35)
    assert woken == [True]
    assert state.reserve("d", "tl", limit=1, hold_s=60) is not None


def test_with_nothing_freed_the_wait_ends_at_its_timeout(redis_url: str) -> None:
    state = _state(redis_url)
    assert state.wait_for_free("d", "tl", timeout_s=0.05) is False


def test_releasing_what_is_not_held_wakes_nobody(redis_url: str) -> None:
    state = _state(redis_url)
    state.release("d", "tl", "poll:never-taken")
    assert state.wait_for_free("d", "tl", timeout_s=0.05) is False


def _state_sharing(redis_url: str, state: BridgeState) -> BridgeState:
    return BridgeState(config=state.config)
