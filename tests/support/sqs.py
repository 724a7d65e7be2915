"""A local Amazon SQS for tests: moto's server mode on a free loopback port."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

REGION = "us-east-1"


@contextmanager
def local_sqs() -> Iterator[str]:
    """moto's server in this process (its own port); yields its endpoint URL.

    moto honours VisibilityTimeout, ApproximateNumberOfMessages and
    MaximumMessageSize, which is what the SQS tests rely on.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def broker_url(endpoint: str) -> str:
    """The Celery broker URL of the local SQS (credentials come from the environment)."""
    return "sqs://@" + endpoint.split("://", 1)[1]


def client(endpoint: str) -> Any:
    """A boto3 SQS client on the local SQS, with fake credentials."""
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
