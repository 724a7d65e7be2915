"""``swfbridge local-swf``: serve the local SWF endpoint until SIGINT/SIGTERM.

Prints the endpoint URL on stdout once ready (point boto3 at it with
``AWS_ENDPOINT_URL_SWF``). Admin endpoints (fault injection, reset) are
documented in :mod:`swfbridge.testing._admin`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``local-swf`` subcommand."""
    from swfbridge.testing.server import DEFAULT_POLL_TIMEOUT_S, DEFAULT_RETENTION_S

    parser = subparsers.add_parser(
        "local-swf",
        help="serve a local SWF endpoint for tests (moto, extended)",
        description=(
            "Serve a local Amazon SWF endpoint (moto's emulation, extended with long "
            "polling, timeouts, cancellation, limits and fault injection). Prints the "
            "endpoint URL once ready; stops on SIGINT/SIGTERM."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: loopback)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument(
        "--poll-timeout",
        type=float,
        default=DEFAULT_POLL_TIMEOUT_S,
        metavar="SECONDS",
        help=f"long-poll wait when no task (default {DEFAULT_POLL_TIMEOUT_S:g}, like SWF)",
    )
    parser.add_argument(
        "--retention",
        type=float,
        default=DEFAULT_RETENTION_S,
        metavar="SECONDS",
        help=f"keep closed executions this long (default {DEFAULT_RETENTION_S:g})",
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; return the exit code."""
    from swfbridge.testing._moto_patches import MotoVersionError
    from swfbridge.testing.server import LocalSWF

    logging.basicConfig(
        level=str(args.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server = LocalSWF(
                host=args.host,
                port=args.port,
                poll_timeout_s=args.poll_timeout,
                retention_s=args.retention,
            )
            server.start()
        except (MotoVersionError, OSError, ValueError) as exc:
            print(f"swfbridge local-swf: {exc}", file=sys.stderr)
            return 2
        try:
            print(server.endpoint_url, flush=True)
            while not stop.wait(0.5):
                pass
            logger.info("stopping local SWF")
        finally:
            server.stop()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
