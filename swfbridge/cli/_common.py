"""Shared pieces of the command line: environment defaults, logging, errors."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import urllib.parse

from swfbridge.aws.swf import SWF_CALLS_CHOICES, SwfClientConfig, direct_calls_from
from swfbridge.errors import SwfBridgeError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class UsageError(SwfBridgeError):
    """Bad flags or configuration: reported as one line, exit status 2."""


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def add_logging_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        default=env("SWFBRIDGE_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (env SWFBRIDGE_LOG_LEVEL; default INFO)",
    )


def add_swf_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        default=None,
        help="SWF endpoint (default: boto3's, e.g. AWS_ENDPOINT_URL_SWF)",
    )
    parser.add_argument(
        "--region", default=None, help="AWS region (default: boto3's, e.g. AWS_DEFAULT_REGION)"
    )
    parser.add_argument(
        "--swf-calls",
        default=env("SWFBRIDGE_SWF_CALLS", "direct"),
        choices=SWF_CALLS_CHOICES,
        help="how the per-task SWF calls (poll, heartbeat, respond, the task's history) are "
        "sent: 'direct', signed requests built from boto3's own settings at a quarter of its "
        "CPU, or 'boto3' "
        "(env SWFBRIDGE_SWF_CALLS; default direct)",
    )


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    # boto and kombu chatter is for debugging swfbridge, not for operators.
    for noisy in ("botocore", "boto3", "urllib3", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def swf_client_config(args: argparse.Namespace) -> SwfClientConfig:
    """The SWF client settings of a command's :func:`add_swf_args` flags.

    Raises:
        UsageError: ``SWFBRIDGE_SWF_CALLS`` holds neither choice (argparse checks
            only the flag).
    """
    try:
        direct = direct_calls_from(args.swf_calls)
    except ValueError as exc:
        raise UsageError(f"SWFBRIDGE_SWF_CALLS: {exc}") from None
    return SwfClientConfig(region=args.region, endpoint_url=args.endpoint_url, direct_calls=direct)


def redact_url(url: str) -> str:
    """A broker/state URL with every password replaced by ``***`` (for start-up lines).

    Handles failover and sentinel lists (``a;b`` and ``a,b``), the userinfo password and
    ``password=`` query parameters (kombu's and redis-py's forms).
    """
    return ";".join(
        ",".join(_redact_one(part) for part in item.split(",")) for item in str(url).split(";")
    )


_QUERY_PASSWORD = re.compile(r"((?:^|[?&;])(?:sentinel_)?password=)[^&;]*", re.IGNORECASE)


def _redact_one(url: str) -> str:
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable url>"
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}"
    query = _QUERY_PASSWORD.sub(r"\1***", parts.query)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def error(message: str) -> int:
    """Print one clear line and return the usage-error exit status."""
    print(f"swfbridge: error: {message}", file=sys.stderr)
    return 2


def require(value: str | None, flag: str, env_name: str) -> str:
    if not value:
        raise UsageError(f"{flag} is required (or set {env_name})")
    return value
