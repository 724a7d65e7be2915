"""Reading an AWS failure: the one place that looks inside botocore's exceptions.

The SWF client (:func:`swfbridge.aws.swf.translate`), the S3 payload store and
the test decider all decide on the same three facts: the error code AWS
answered with, its message and the HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions


@dataclass(frozen=True)
class AwsAnswer:
    """What AWS answered a failed call with."""

    code: str
    message: str
    status: int


def aws_answer(exc: BaseException) -> AwsAnswer | None:
    """The code, message and HTTP status of an error answer; None for any
    failure that is not one (no connection, no credentials, a bug)."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return None
    response: Any = exc.response if isinstance(exc.response, dict) else {}
    error: dict[str, Any] = response.get("Error") or {}
    metadata: dict[str, Any] = response.get("ResponseMetadata") or {}
    return AwsAnswer(
        code=str(error.get("Code", "Unknown")),
        message=str(error.get("Message", "")),
        status=int(metadata.get("HTTPStatusCode", 0) or 0),
    )


def error_code(exc: BaseException) -> str:
    """The AWS error code of ``exc``, or "" when AWS did not answer with one."""
    answer = aws_answer(exc)
    return "" if answer is None else answer.code
