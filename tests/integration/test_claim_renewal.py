"""A running attempt with no deadline keeps its claim (real redis-server)."""

from __future__ import annotations

import time
import uuid

from swfbridge.state.store import BridgeState, StateConfig
from swfbridge.wire.job import ActivityJob
from swfbridge.worker.claimrenewal import claim_renewed
from tests.support.jobs import make_job


def _state(redis_url: str) -> BridgeState:
    return BridgeState(
        config=StateConfig(url=redis_url, key_prefix=f"t-{uuid.uuid4().hex}", no_deadline_ttl_s=1.2)
    )


def _job() -> ActivityJob:
    return make_job(started_event_id=uuid.uuid4().int % 10**9, polled_at=time.time())


def test_a_claim_without_deadline_outlives_its_ttl_while_the_attempt_runs(redis_url: str) -> None:
    state, job = _state(redis_url), _job()
    assert state.claim(job.attempt_id, deadline=None, owner="me")
    with claim_renewed(state, job, "me"):
        time.sleep(3 * state.config.no_deadline_ttl_s)  # the claim alone would lapse
        assert state.claimed(job.attempt_id)
    # A copy redelivered now is still dropped.
    assert not state.claim(job.attempt_id, deadline=None, owner="other")


def test_only_the_holder_renews_a_claim(redis_url: str) -> None:
    state, job = _state(redis_url), _job()
    assert state.claim(job.attempt_id, deadline=None, owner="me")
    assert not state.renew_claim(job.attempt_id, owner="someone else")
    assert state.renew_claim(job.attempt_id, owner="me")
