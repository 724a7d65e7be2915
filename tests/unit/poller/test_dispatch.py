from __future__ import annotations

from typing import Any

from swfbridge.poller.dispatch import CeleryDispatcher
from swfbridge.wire.job import TASK_NAME, ActivityJob
from tests.support.jobs import make_job


class _Producer:
    channel = object()

    def release(self) -> None:
        pass


class _ProducerPool:
    def acquire(self, block: bool = True, timeout: float | None = None) -> _Producer:
        return _Producer()


class RecordingApp:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.producer_pool = _ProducerPool()

    def send_task(self, name: str, **options: Any) -> None:
        options.pop("producer")
        self.sent.append((name, options))


def _job() -> ActivityJob:
    return make_job(
        task_token="very-secret-token",
        task_list="l",
        activity_name="Add",
        input='["private input"]',
        polled_at=100.0,
        deadline=130.0,
    )


def test_jobs_are_sent_under_the_fixed_name_with_the_attempt_id_and_deadline() -> None:
    app = RecordingApp()
    CeleryDispatcher(app=app, queue="q").publish(_job())  # type: ignore[arg-type]
    ((name, options),) = app.sent
    assert name == TASK_NAME
    assert options["task_id"] == _job().attempt_id
    assert options["queue"] == "q"
    assert options["expires"].timestamp() == 130.0
    assert options["serializer"] == "json"


def test_what_celery_shows_of_a_job_holds_neither_token_nor_input() -> None:
    app = RecordingApp()
    CeleryDispatcher(app=app).publish(_job())  # type: ignore[arg-type]
    ((_, options),) = app.sent
    shown = options["argsrepr"] + options["kwargsrepr"]
    assert "very-secret-token" not in shown and "private input" not in shown
    assert _job().attempt_id in shown
