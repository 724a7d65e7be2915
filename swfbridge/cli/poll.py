"""``swfbridge poll``: long-poll an SWF task list and hand tasks to Celery."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from swfbridge.cli._common import (
    UsageError,
    add_logging_args,
    add_swf_args,
    env,
    error,
    redact_url,
    require,
    setup_logging,
    swf_client_config,
)
from swfbridge.errors import ConfigurationError
from swfbridge.registry import default_registry, load_modules, parse_module_list
from swfbridge.serialization import wire_format
from swfbridge.task_map import load_task_map

log = logging.getLogger("swfbridge.cli.poll")

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "poll",
        help="poll an SWF task list and send each activity task to Celery",
        description=(
            "Long-poll an SWF task list for activity tasks and publish each as a "
            "Celery job that `celery -A swfbridge worker` runs. SIGTERM/SIGINT stop "
            "polling gracefully (polls under way finish and are dispatched); a second "
            "signal exits at once."
        ),
    )
    parser.add_argument("--domain", default=env("SWFBRIDGE_DOMAIN"),
                        help="SWF domain (env SWFBRIDGE_DOMAIN)")
    parser.add_argument("--task-list", default=env("SWFBRIDGE_TASK_LIST"),
                        help="SWF task list to poll (env SWFBRIDGE_TASK_LIST)")
    parser.add_argument(
        "--queue",
        default=env("SWFBRIDGE_QUEUE"),
        help="Celery queue for the jobs (env SWFBRIDGE_QUEUE; default: the app's default "
        "queue, 'celery', which a plain `celery -A swfbridge worker` consumes; "
        "give workers `-Q` to match)",
    )
    parser.add_argument(
        "--activities",
        default=env("SWFBRIDGE_ACTIVITIES"),
        help="comma-separated modules defining activities (env SWFBRIDGE_ACTIVITIES); "
        "optional: lets the poller know their timeouts without asking SWF",
    )
    parser.add_argument(
        "--task-map",
        default=env("SWFBRIDGE_TASK_MAP"),
        metavar="FILE",
        help="activity types run by existing Celery tasks: a .json (or .toml) file, or "
        "module:attribute (env SWFBRIDGE_TASK_MAP; see docs/migrating.rst)",
    )
    parser.add_argument(
        "--wire-format",
        default=env("SWFBRIDGE_WIRE_FORMAT", "flowy"),
        choices=["flowy", "simpleflow"],
        help="input/result format of mapped Celery tasks whose entry names none "
        "(env SWFBRIDGE_WIRE_FORMAT; default flowy)",
    )
    parser.add_argument("--identity", default=env("SWFBRIDGE_IDENTITY"),
                        help="identity recorded by SWF (default host:pid)")
    parser.add_argument("--pollers", type=int, default=int(env("SWFBRIDGE_POLLERS", "1") or 1),
                        help="concurrent long polls (env SWFBRIDGE_POLLERS; default 1)")
    parser.add_argument(
        "--timeouts-from-history",
        action="store_true",
        default=(env("SWFBRIDGE_TIMEOUTS_FROM_HISTORY", "") or "").lower() in ("1", "true", "yes"),
        help="read each task's timeouts from its ActivityTaskScheduled event (one history "
        "read per task), for deciders that override the type's timeouts per task "
        "(env SWFBRIDGE_TIMEOUTS_FROM_HISTORY=1; default: the type's registered timeouts)",
    )
    parser.add_argument("--broker", default=env("CELERY_BROKER_URL", DEFAULT_BROKER_URL),
                        help=f"Celery broker URL (env CELERY_BROKER_URL; default "
                        f"{DEFAULT_BROKER_URL})")
    add_swf_args(parser)
    add_logging_args(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    try:
        poller = _build(args)
    except (UsageError, ConfigurationError, ValueError) as exc:
        return error(str(exc))
    return _serve(poller)


def _build(args: argparse.Namespace) -> Any:
    from celery import Celery

    from swfbridge.dispatch import CeleryDispatcher
    from swfbridge.poller import Poller, PollerConfig, default_identity
    from swfbridge.swf import SwfClient
    from swfbridge.timeouts import TimeoutResolver

    domain = require(args.domain, "--domain", "SWFBRIDGE_DOMAIN")
    task_list = require(args.task_list, "--task-list", "SWFBRIDGE_TASK_LIST")
    load_modules(parse_module_list(args.activities))
    task_map = None
    if args.task_map:
        task_map = load_task_map(args.task_map, wire_format=wire_format(args.wire_format))
    config = PollerConfig(domain=domain, task_list=task_list,
                          identity=args.identity or default_identity(), pollers=args.pollers)
    swf = SwfClient(config=swf_client_config(args))
    app = Celery("swfbridge-poller", broker=args.broker)
    app.conf.update(task_serializer="json", accept_content=["json"],
                    broker_connection_retry_on_startup=True)
    log.info(
        "swfbridge poll starting: domain=%s task_list=%s queue=%s pollers=%d broker=%s "
        "identity=%s activities=%d known celery_tasks=%d mapped",
        domain, task_list, args.queue or "(app default)", config.pollers,
        redact_url(args.broker), config.identity, len(default_registry),
        len(task_map) if task_map is not None else 0,
    )
    return Poller(
        config=config,
        swf=swf,
        dispatcher=CeleryDispatcher(app=app, queue=args.queue, task_map=task_map),
        timeouts=TimeoutResolver(registry=default_registry, swf=swf, domain=domain,
                                 from_history=args.timeouts_from_history),
    )


def _serve(poller: Any) -> int:
    signals = {"count": 0}
    forced = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Handlers only set flags; the main loop below acts on them.
        signals["count"] += 1
        poller.stop()
        if signals["count"] > 1:
            forced.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    poller.start()
    while not poller.join(timeout_s=0.2):
        if forced.is_set():
            log.warning("second signal: exiting now, abandoning polls under way")
            _summary(poller)
            return 1
    _summary(poller)
    return 0


def _summary(poller: Any) -> None:
    counts = poller.counts
    log.info(
        "swfbridge poll stopped: polls=%d empty=%d dispatched=%d failed_by_bridge=%d "
        "poll_errors=%d",
        counts.get("polls", 0), counts.get("empty_polls", 0), counts.get("dispatched", 0),
        counts.get("failed_by_bridge", 0), counts.get("poll_errors", 0),
    )
    sys.stderr.flush()
