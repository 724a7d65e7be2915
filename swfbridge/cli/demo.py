"""``swfbridge demo``: run an example workflow end to end on this machine."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from swfbridge.cli._common import env, error, redact_url, setup_logging

log = logging.getLogger("swfbridge.cli.demo")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run an example workflow end to end on this machine (no AWS, no setup)",
        description=(
            "Run an example SWF workflow end to end on this machine: a local SWF endpoint "
            "(in this process), a Celery broker, a real Celery worker (prefork, a child "
            "process), the swfbridge poller and a small decider. Shows each activity being "
            "scheduled, running and done, heartbeat progress of a long one, a failure and a "
            "cancellation, then a summary. Exits 0 when every activity ended as expected. "
            "Needs the local SWF endpoint: pip install 'swfbridge[testing]'."
        ),
    )
    parser.add_argument(
        "--broker",
        default="auto",
        metavar="auto|embedded|URL",
        help="Celery broker: 'auto' (default) uses CELERY_BROKER_URL if set, else a Redis "
        "answering on 127.0.0.1:6379, else the embedded one; 'embedded' always uses kombu's "
        "filesystem transport in a temporary directory (no server at all); or a broker URL "
        "(an sqs:// one needs SWFBRIDGE_STATE_URL naming a Redis for the attempt claims)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="worker pool processes (default 4)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="give up if the Celery worker is not ready by then (it connects "
        "to the broker first), or the workflow has not finished by then "
        "(default 60)",
    )
    parser.add_argument(
        "--log-level",
        default=env("SWFBRIDGE_LOG_LEVEL", "WARNING"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level of this process (env SWFBRIDGE_LOG_LEVEL; default "
        "WARNING, so the progress lines stand out)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    if args.concurrency < 1:
        return error("--concurrency must be at least 1")
    if args.timeout <= 0:
        return error("--timeout must be positive")
    try:
        import moto  # noqa: F401
    except ImportError:
        return error("the demo needs the local SWF endpoint: pip install 'swfbridge[testing]'")
    try:
        with _stopped_by_signals():
            return _run_in(args, Path(tempfile.mkdtemp(prefix="swfbridge-demo-")))
    except _Stopped as stopped:
        print(f"swfbridge demo: stopped by {stopped.signal_name}; cleaned up", file=sys.stderr)
        return 128 + stopped.signum


def _run_in(args: argparse.Namespace, work: Path) -> int:
    """The demo in the scratch directory ``work``, removed whatever happens."""
    from swfbridge.demo.bridge import BridgeStartError
    from swfbridge.demo.broker import choose_broker
    from swfbridge.demo.runner import DemoConfig, run_demo, summarize
    from swfbridge.sqs import NEEDS_STATE, is_sqs

    try:
        broker = choose_broker(args.broker, env_broker_url=env("CELERY_BROKER_URL"), work_dir=work)
        if is_sqs(broker.url) and not env("SWFBRIDGE_STATE_URL"):
            return error(NEEDS_STATE)  # the demo's worker would refuse to start
        print(f"swfbridge demo: broker {redact_url(broker.url)} ({broker.origin})", flush=True)
        config = DemoConfig(
            broker=broker,
            work_dir=work,
            base_env=dict(os.environ),
            concurrency=args.concurrency,
            timeout_s=args.timeout,
        )
        try:
            result = run_demo(config, emit=lambda line: print(line, flush=True))
        except BridgeStartError as exc:
            return error(str(exc))
        except Exception as exc:  # e.g. DeciderTimeout, an unreachable broker
            return error(f"the demo failed: {type(exc).__name__}: {exc}")
        for line in summarize(result):
            print(line)
        if not result.ok:
            tail = result.worker_log.read_text(errors="replace")[-3000:]
            print(f"worker log (last lines):\n{tail}", file=sys.stderr)
        return 0 if result.ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Stopped(BaseException):
    """SIGINT or SIGTERM arrived: unwind, so the worker is stopped and the
    temporary directory removed (a BaseException, so no ``except Exception``
    on the way swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.signal_name = signal.Signals(signum).name


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """The first SIGINT/SIGTERM raises :class:`_Stopped` in the main thread; later
    ones are ignored while the demo cleans up (stopping the worker is bounded)."""
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise _Stopped(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
