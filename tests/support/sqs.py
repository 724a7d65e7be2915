"""A local Amazon SQS for tests: moto's server mode on a free loopback port."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

REGION = "us-east-1"


class LocalSqs:
    """moto's server in this process (its own loopback port).

    moto honours VisibilityTimeout, ApproximateNumberOfMessages and
    MaximumMessageSize, which is what the SQS tests rely on.
    """

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        self._stopped = False
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving (idempotent): clients then get connection errors."""
        if not self._stopped:
            self._stopped = True
            self._server.stop()


@contextmanager
def local_sqs() -> Iterator[str]:
    """A :class:`LocalSqs` for the block; yields its endpoint URL."""
    server = LocalSqs()
    try:
        yield server.endpoint
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
