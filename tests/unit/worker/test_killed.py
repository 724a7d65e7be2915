"""Celery's kills of an attempt, classified once for the task and the relays."""

from __future__ import annotations

import json

from billiard.exceptions import WorkerLostError
from celery.exceptions import TimeLimitExceeded

from swfbridge.worker.killed import killed_failure


def _cause(exc: BaseException) -> str:
    failure = killed_failure(exc, "the activity")
    assert failure is not None and failure.details is not None
    return str(json.loads(failure.details)["cause"])


def test_the_hard_time_limit_is_the_deadline_passing() -> None:
    assert _cause(TimeLimitExceeded(70.0)) == "deadline_passed"


def test_a_lost_pool_process_is_worker_lost_naming_the_subject() -> None:
    failure = killed_failure(WorkerLostError("SIGKILL"), "Celery task 'x'")

    assert failure is not None
    assert "the worker process running Celery task 'x' was lost" in failure.reason


def test_any_other_exception_is_not_a_kill() -> None:
    assert killed_failure(ValueError("no"), "the activity") is None
    assert killed_failure(None, "the activity") is None
