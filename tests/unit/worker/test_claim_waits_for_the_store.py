"""A claim waits a little for an unreachable state store before the attempt runs unclaimed.

In the soak, a Redis restart at the moment of a claim let a job run unclaimed;
the same restart lost its acknowledgement, the message came back 10 s later,
and it ran a second time.
"""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace
from typing import Any

import pytest

from swfbridge.state.store import Claim, StateUnavailable
from swfbridge.worker import install
from swfbridge.worker.executor import WorkerConfig
from swfbridge.worker.install import _claim
from tests.support.jobs import make_job

JOB = make_job()


class FlakyClaims:
    """Down for the first ``down`` calls; ``taken_while_down``: the failed call took it."""

    def __init__(self, down: int, *, taken_while_down: bool = False) -> None:
        self.down = down
        self.calls = 0
        self.holder: str | None = None
        self.taken_while_down = taken_while_down

    def claim_attempt(
        self, attempt_id: str, *, deadline: float | None, owner: str, **where: str
    ) -> Claim:
        self.calls += 1
        if self.calls <= self.down:
            if self.taken_while_down and self.holder is None:
                self.holder = owner  # the SET ran; its reply was lost
            raise StateUnavailable("connection reset")
        if self.holder is not None:
            return Claim.REFUSED
        self.holder = owner
        return Claim.TAKEN

    def claim_owner(self, attempt_id: str) -> str | None:
        return self.holder


def _task(claims: FlakyClaims, wait_s: float = 5.0) -> Any:
    return SimpleNamespace(
        state=claims,
        request=SimpleNamespace(delivery_info={}),
        swf_worker_config=WorkerConfig(claim_wait_s=wait_s),
    )


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "_CLAIM_RETRY_S", (0.01,))


def test_a_claim_is_tried_again_while_the_store_restarts() -> None:
    claims = FlakyClaims(down=3)
    assert _claim(_task(claims), JOB).run is True
    assert claims.calls == 4 and claims.holder is not None  # claimed, not run unclaimed


def test_a_claim_whose_reply_was_lost_is_recognised_as_ours() -> None:
    claims = FlakyClaims(down=1, taken_while_down=True)
    assert _claim(_task(claims), JOB).run is True


def test_a_store_down_for_longer_than_the_wait_runs_the_attempt_unclaimed() -> None:
    claims = FlakyClaims(down=10_000)
    started = time.monotonic()
    assert _claim(_task(claims, wait_s=0.2), JOB).run is True
    assert claims.holder is None
    assert time.monotonic() - started < 2


def test_the_wait_is_at_most_a_quarter_of_the_time_left() -> None:
    job = dataclasses.replace(JOB, deadline=time.time() + 2.0)
    assert install._claim_wait_s(_task(FlakyClaims(0), wait_s=5.0), job) <= 0.5
