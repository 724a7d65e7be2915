from __future__ import annotations

import botocore.exceptions
import pytest

from swfbridge.aws.swf import (
    InvalidRequest,
    Misconfigured,
    ServiceUnavailable,
    SwfError,
    Throttled,
    UnknownResource,
    translate,
)
from tests.support.fakes import FakeBoto, client_error, fake_swf


@pytest.mark.parametrize(
    ("code", "status", "expected", "retryable"),
    [
        ("UnknownResourceFault", 400, UnknownResource, False),
        ("ThrottlingException", 400, Throttled, True),
        ("ValidationException", 400, InvalidRequest, False),
        ("SomethingNew", 503, ServiceUnavailable, True),
        ("SomethingNew", 400, SwfError, False),
        ("UnrecognizedClientException", 400, Misconfigured, False),
        ("InvalidSignatureException", 403, Misconfigured, False),
    ],
)
def test_client_errors_translate_to_one_hierarchy(
    code: str, status: int, expected: type[SwfError], retryable: bool
) -> None:
    error = translate("PollForActivityTask", client_error(code, status))
    assert type(error) is expected
    assert error.retryable is retryable
    assert error.code == code


def test_connection_failures_are_retryable_service_errors() -> None:
    exc = botocore.exceptions.EndpointConnectionError(endpoint_url="http://x")
    assert isinstance(translate("Op", exc), ServiceUnavailable)


def test_retryable_errors_are_retried_until_success() -> None:
    answers = [client_error("ThrottlingException"), client_error("X", 500), {"ok": True}]
    boto = FakeBoto(respond_activity_task_completed=lambda **_: answers.pop(0))
    assert fake_swf(boto).call("respond_activity_task_completed", taskToken="t") == {"ok": True}
    assert len(boto.calls) == 3


def test_retries_are_bounded() -> None:
    boto = FakeBoto(respond_activity_task_completed=client_error("ThrottlingException"))
    with pytest.raises(Throttled):
        fake_swf(boto, attempts=4).call("respond_activity_task_completed", taskToken="t")
    assert len(boto.calls) == 4


def test_unknown_resource_is_never_retried() -> None:
    boto = FakeBoto(respond_activity_task_completed=client_error("UnknownResourceFault"))
    with pytest.raises(UnknownResource):
        fake_swf(boto).call("respond_activity_task_completed", taskToken="t")
    assert len(boto.calls) == 1


def test_retry_false_makes_a_single_attempt() -> None:
    boto = FakeBoto(poll_for_activity_task=client_error("ThrottlingException"))
    with pytest.raises(Throttled):
        fake_swf(boto).call("poll_for_activity_task", retry=False, domain="d")
    assert len(boto.calls) == 1


@pytest.mark.parametrize(
    "exc", [botocore.exceptions.NoRegionError(), botocore.exceptions.NoCredentialsError()]
)
def test_no_region_or_credentials_is_a_misconfiguration_never_retried(exc: Exception) -> None:
    error = translate("Op", exc)
    assert isinstance(error, Misconfigured) and not error.retryable
    assert "set AWS_" in error.message
