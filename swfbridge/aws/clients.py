"""Making a boto3 client the way swfbridge uses them: bounded timeouts and no
retries of botocore's own (swfbridge retries itself, knowing what is safe to
retry, with bounded and logged tries: :func:`swfbridge.aws.retry.call_with_retries`)."""

from __future__ import annotations

from typing import Any, Literal

import boto3
import botocore.config


def make_boto_session(
    service: Literal["swf", "s3"],
    *,
    region: str | None,
    endpoint_url: str | None,
    connect_timeout_s: float,
    read_timeout_s: float,
    max_pool_connections: int | None = None,
) -> tuple[boto3.session.Session, Any]:
    """A new boto3 client for ``service``, and the session of its own it was made
    in (whose ``get_credentials()`` are the client's, refreshed as the client's are).

    Raises:
        botocore.exceptions.BotoCoreError: boto3 cannot make it (e.g. no region);
            the caller translates it into its own error.
    """
    options: dict[str, Any] = {}
    if max_pool_connections is not None:
        options["max_pool_connections"] = max_pool_connections
    config = botocore.config.Config(
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": 1},
        **options,
    )
    session = boto3.session.Session()
    return session, session.client(
        service, region_name=region, endpoint_url=endpoint_url, config=config
    )
