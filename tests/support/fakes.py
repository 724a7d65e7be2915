"""In-memory stand-ins for unit tests of pure-ish logic (never for integration)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions

from swfbridge.aws.retry import Backoff
from swfbridge.aws.swf import SwfClient, SwfClientConfig


def client_error(code: str, status: int = 400, operation: str = "Op") -> Exception:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class FakeBoto:
    """Records calls; answers from per-operation handlers (a dict, or a callable)."""

    def __init__(self, **handlers: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.handlers = handlers

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        if operation.startswith("_"):
            raise AttributeError(operation)

        def call(**params: Any) -> Any:
            self.calls.append((operation, params))
            handler = self.handlers.get(operation, {})
            result = handler(**params) if callable(handler) else handler
            if isinstance(result, Exception):
                raise result
            return result

        return call

    def ops(self, operation: str) -> list[dict[str, Any]]:
        return [params for op, params in self.calls if op == operation]


def fake_swf(boto: FakeBoto, *, attempts: int = 3) -> SwfClient:
    return SwfClient(
        config=SwfClientConfig(backoff=Backoff(base_s=0.001, cap_s=0.002, max_attempts=attempts)),
        client=boto,
    )
