"""The one retry loop and the one reading of botocore's errors."""

from __future__ import annotations

import threading
from typing import Any

import botocore.exceptions
import pytest

from swfbridge.aws.errors import AwsAnswer, aws_answer, error_code
from swfbridge.aws.retry import Backoff, Failure, call_with_retries

FAST = Backoff(base_s=0.0, cap_s=0.0, max_attempts=3)


class _Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"try {self.calls}")
        return "ok"


def _retryable(exc: Exception, attempt: int) -> Failure[RuntimeError]:
    return Failure(RuntimeError(f"gave up after {attempt}"), True, "Conn")


def test_a_retryable_failure_is_tried_again_until_it_succeeds() -> None:
    call = _Flaky(failures=2)

    assert call_with_retries(call, backoff=FAST, classify=_retryable, label="op") == "ok"
    assert call.calls == 3


def test_the_last_try_raises_the_classified_error_chained_to_the_original() -> None:
    call = _Flaky(failures=5)

    with pytest.raises(RuntimeError, match="gave up after 3") as raised:
        call_with_retries(call, backoff=FAST, classify=_retryable, label="op")
    assert isinstance(raised.value.__cause__, ConnectionError)


def test_a_failure_that_is_not_retryable_is_raised_at_once() -> None:
    call = _Flaky(failures=5)

    with pytest.raises(RuntimeError):
        call_with_retries(
            call,
            backoff=FAST,
            label="op",
            classify=lambda exc, n: Failure(RuntimeError("no"), False, "Bad"),
        )
    assert call.calls == 1


def test_setting_stop_gives_up_while_waiting() -> None:
    stop = threading.Event()
    stop.set()
    call = _Flaky(failures=5)

    with pytest.raises(RuntimeError):
        call_with_retries(
            call,
            backoff=Backoff(base_s=60, cap_s=60, max_attempts=None),
            classify=_retryable,
            label="op",
            stop=stop,
        )
    assert call.calls == 1


def test_an_aws_error_answer_is_read_once_for_code_message_and_status() -> None:
    response: Any = {
        "Error": {"Code": "SlowDown", "Message": "easy"},
        "ResponseMetadata": {"HTTPStatusCode": 503},
    }
    exc = botocore.exceptions.ClientError(response, "PutObject")

    assert aws_answer(exc) == AwsAnswer(code="SlowDown", message="easy", status=503)
    assert error_code(exc) == "SlowDown"
    assert aws_answer(ConnectionError("down")) is None
    assert error_code(ConnectionError("down")) == ""
