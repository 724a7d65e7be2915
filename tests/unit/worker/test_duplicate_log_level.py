"""A copy dropped by its claim: expected (INFO) when Redis redelivered it, else WARNING."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from swfbridge.state.store import Claim
from swfbridge.worker.install import _claim
from tests.support.jobs import make_job

JOB = make_job()


class TakenClaims:
    def claim_attempt(
        self, attempt_id: str, *, deadline: float | None, owner: str, **where: str
    ) -> Claim:
        return Claim.REFUSED


@pytest.mark.parametrize(("redelivered", "level"), [(True, "INFO"), (False, "WARNING")])
def test_a_redelivered_copy_is_dropped_quietly_another_loudly(
    caplog: pytest.LogCaptureFixture, redelivered: bool, level: str
) -> None:
    task: Any = SimpleNamespace(
        state=TakenClaims(), request=SimpleNamespace(delivery_info={"redelivered": redelivered})
    )
    with caplog.at_level(logging.INFO, logger="swfbridge.worker.install"):
        assert _claim(task, JOB).run is False
    [record] = [r for r in caplog.records if "duplicate delivery dropped" in r.getMessage()]
    assert record.levelname == level
