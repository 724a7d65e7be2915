"""Publishing mapped Celery tasks and turning their outcome into SWF answers."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace
from typing import Any

import pytest
from billiard.exceptions import WorkerLostError
from celery import Celery
from celery.exceptions import TimeLimitExceeded
from kombu.exceptions import EncodeError

from swfbridge import FLOWY, SIMPLEFLOW
from swfbridge.activities.task_map import ResolvedRoute
from swfbridge.aws.swf import SwfClientConfig
from swfbridge.poller.mapped import JobRejected, mapped_publication
from swfbridge.wire.job import RELAY_FAILURE_TASK, RELAY_RESULT_TASK
from swfbridge.wire.outcome import Completed, Failed
from swfbridge.worker.relays import (
    _our_errback,
    failure_outcome,
    install_relays,
    result_outcome,
)
from tests.support.jobs import make_job

JOB = make_job(
    task_token="secret-token",
    activity_id="a1",
    activity_name="Resize",
    started_event_id=3,
    input=json.dumps([[10, 20], {"scale": 2}]),
    polled_at=1000.0,
)


def test_the_input_becomes_the_tasks_own_args_and_kwargs() -> None:
    publication = mapped_publication(JOB, ResolvedRoute("images.resize", FLOWY, None), queue=None)

    assert publication.task == "images.resize"
    assert (publication.args, publication.kwargs) == ([10, 20], {"scale": 2})


def test_simpleflow_input_is_decoded_for_a_simpleflow_route() -> None:
    job = dataclasses.replace(JOB, input='{"args": [1], "kwargs": {"b": 2}}')

    publication = mapped_publication(job, ResolvedRoute("t", SIMPLEFLOW, None), queue=None)

    assert (publication.args, publication.kwargs) == ([1], {"b": 2})


def test_both_relays_ride_on_the_job_with_the_token_but_not_the_input_on_the_jobs_queue() -> None:
    job = dataclasses.replace(JOB, input='{"args": [1]}')
    publication = mapped_publication(
        job, ResolvedRoute("images.resize", SIMPLEFLOW, "img"), queue="default-q"
    )

    link, errback = publication.options["link"], publication.options["link_error"]
    assert (link["task"], errback["task"]) == (RELAY_RESULT_TASK, RELAY_FAILURE_TASK)
    for relay in (link, errback):
        assert relay["kwargs"]["job"]["task_token"] == "secret-token"
        assert relay["kwargs"]["job"]["input"] is None
        assert relay["kwargs"]["wire_format"] == "simpleflow"
        assert relay["kwargs"]["task"] == "images.resize"
        assert relay["options"]["queue"] == "img"
    assert publication.options["queue"] == "img"


def test_undecodable_input_is_rejected_before_publishing_with_a_clear_reason() -> None:
    job = dataclasses.replace(JOB, input='{"a": 1}')

    with pytest.raises(JobRejected) as rejected:
        mapped_publication(job, ResolvedRoute("images.resize", FLOWY, None), queue=None)

    assert rejected.value.failure.reason.startswith(
        "swfbridge: input could not be decoded (flowy format) for Celery task 'images.resize'"
    )


def test_a_return_value_is_encoded_as_json_for_the_decider() -> None:
    assert result_outcome({"w": 1}, FLOWY, "t") == Completed('{"w":1}')


def test_a_result_over_swfs_limit_fails_clearly_instead_of_being_truncated() -> None:
    outcome = result_outcome("x" * 40_000, FLOWY, "images.big")

    assert isinstance(outcome, Failed)
    assert "result of Celery task 'images.big' too large: 40002 characters" in outcome.reason


def test_a_task_exception_fails_with_simpleflows_reason_and_details() -> None:
    try:
        raise ValueError("disk full")
    except ValueError as exc:
        failure = failure_outcome(exc, "images.resize", "id-1")

    assert failure.reason == "ValueError: disk full"
    assert failure.details is not None
    details = json.loads(failure.details)
    assert details["error"] == "ValueError" and "Traceback" in details["traceback"]


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (EncodeError("set is not JSON serializable"), "result_not_serializable"),
        (TimeLimitExceeded(70), "deadline_passed"),
        (WorkerLostError("killed"), "worker_lost"),
        (None, "failure_not_relayed"),
    ],
)
def test_failures_of_the_machinery_name_their_cause(exc: BaseException | None, cause: str) -> None:
    failure = failure_outcome(exc, "images.resize", "id-1")

    assert failure.details is not None and json.loads(failure.details)["cause"] == cause
    assert "images.resize" in failure.reason


def test_an_unknown_tasks_message_yields_the_relay_only_if_swfbridge_sent_it() -> None:
    publication = mapped_publication(JOB, ResolvedRoute("x", FLOWY, None), queue=None)
    ours = [[], {}, {"errbacks": [publication.options["link_error"]]}]
    theirs = [[], {}, {"errbacks": None}]

    def message(body: Any) -> Any:
        return SimpleNamespace(decode=lambda: body)

    relay = _our_errback(message(ours))
    assert relay is not None and relay["job"]["activity_id"] == "a1"
    assert _our_errback(message(theirs)) is None
    assert _our_errback(message("garbage")) is None
    assert _our_errback(SimpleNamespace(decode=lambda: 1 / 0)) is None


def test_the_failure_relay_is_a_new_style_errback_so_celery_calls_it_inline() -> None:
    app = Celery("t", set_as_current=False)
    install_relays(app, swf=SwfClientConfig())
    backend = app.backend
    errback = app.signature(RELAY_FAILURE_TASK, kwargs={"job": {}, "task": "t"})

    # Celery's own test: arity > 1 → called as errback(request, exc, traceback).
    assert backend._errback_arity_greater(errback, 1)


def test_a_mapped_tasks_result_over_swfs_limit_goes_to_s3_when_offload_is_on() -> None:
    from swfbridge.payloads.store import PayloadStore, S3Reference
    from tests.unit.payloads.test_payloads import FakeS3, config

    s3 = FakeS3()
    outcome = result_outcome("x" * 40_000, FLOWY, "images.big", PayloadStore(config(), client=s3))

    assert isinstance(outcome, Completed) and outcome.result is not None
    reference = S3Reference.parse(outcome.result)
    assert s3.objects[(reference.bucket, reference.key)] == json.dumps("x" * 40_000).encode()


def test_an_unknown_tasks_failure_is_reported_off_the_consumer_thread() -> None:
    import threading

    from swfbridge.worker.relays import _Relay

    publication = mapped_publication(JOB, ResolvedRoute("x", FLOWY, None), queue=None)
    body = [[], {}, {"errbacks": [publication.options["link_error"]]}]
    relay = _Relay(SwfClientConfig(), None, None)
    reported = threading.Event()
    threads: list[threading.Thread] = []

    def report(job: Any, outcome_for: Any) -> None:
        threads.append(threading.current_thread())
        reported.set()

    relay.report = report  # type: ignore[method-assign]
    relay.on_task_unknown(message=SimpleNamespace(decode=lambda: body), name="x")

    assert reported.wait(10)
    assert threads[0] is not threading.current_thread()
