"""``swfbridge poll``: long-poll an SWF task list and hand tasks to Celery."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from swfbridge.activities.registry import default_registry, load_modules, parse_module_list
from swfbridge.activities.task_map import load_task_map
from swfbridge.aws.swf import SwfError, check_domain, is_misconfiguration
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
from swfbridge.wire.serialization import wire_format

log = logging.getLogger("swfbridge.cli.poll")

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "poll",
        help="poll an SWF task list and send each activity task to Celery",
        description=(
            "Long-poll an SWF task list for activity tasks and publish each as a "
            "Celery job that `celery -A swfbridge worker` runs. With --max-in-flight it "
            "polls only while fewer jobs than that are dispatched and unfinished, so a "
            "backlog waits in SWF. SIGTERM/SIGINT stop polling gracefully (polls under "
            "way finish and are dispatched, within the long-poll window); a second "
            "signal exits at once and fails any task still held with 'poller shutting "
            "down'."
        ),
    )
    parser.add_argument(
        "--domain", default=env("SWFBRIDGE_DOMAIN"), help="SWF domain (env SWFBRIDGE_DOMAIN)"
    )
    parser.add_argument(
        "--task-list",
        default=env("SWFBRIDGE_TASK_LIST"),
        help="SWF task list to poll (env SWFBRIDGE_TASK_LIST)",
    )
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
        choices=["flowy", "simpleflow", "json"],
        help="input/result format of mapped Celery tasks whose entry names none "
        "(env SWFBRIDGE_WIRE_FORMAT; default flowy)",
    )
    parser.add_argument(
        "--identity",
        default=env("SWFBRIDGE_IDENTITY"),
        help="identity recorded by SWF (default host:pid)",
    )
    # String defaults go through `type` too: a bad env value is a usage error, not a crash.
    parser.add_argument(
        "--pollers",
        type=int,
        default=env("SWFBRIDGE_POLLERS", "1"),
        help=f"concurrent long polls, at most {MAX_POLL_THREADS} (each keeps a broker "
        "connection of Celery's pool of 10; run another poller process for more) "
        "(env SWFBRIDGE_POLLERS; default 1)",
    )
    parser.add_argument(
        "--timeouts-from",
        default=env("SWFBRIDGE_TIMEOUTS_FROM", "history"),
        choices=["history", "registration"],
        help="where each task's start-to-close and heartbeat timeouts come from: 'history' "
        "(default), the task's ActivityTaskScheduled event, which holds what SWF applies, "
        "including a decider's per-task values (one history read serves every task of a "
        "run it covers); 'registration', the type's registered defaults only, no history "
        "reads: a task whose decider sets shorter timeouts is then timed out by SWF "
        "while it runs (env SWFBRIDGE_TIMEOUTS_FROM)",
    )
    parser.add_argument(
        "--timeouts-from-history",
        dest="timeouts_from",
        action="store_const",
        const="history",
        help="same as --timeouts-from history (the default; kept for old scripts)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=_int_env("SWFBRIDGE_MAX_IN_FLIGHT"),
        help="most jobs dispatched and not yet finished for this task list, across all "
        "pollers sharing the state store; set it to the fleet's concurrency for this "
        "queue (env SWFBRIDGE_MAX_IN_FLIGHT; default: no limit)",
    )
    parser.add_argument(
        "--state-url",
        default=env("SWFBRIDGE_STATE_URL"),
        help="Redis URL for capacity slots, attempt claims and queued-job heartbeats; "
        "workers must use the same (env SWFBRIDGE_STATE_URL; default: the broker when "
        "it is Redis; required with an SQS broker)",
    )
    parser.add_argument(
        "--broker",
        default=env("CELERY_BROKER_URL", DEFAULT_BROKER_URL),
        help=f"Celery broker URL (env CELERY_BROKER_URL; default {DEFAULT_BROKER_URL})",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=env("SWFBRIDGE_METRICS_PORT"),
        metavar="PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (env "
        "SWFBRIDGE_METRICS_PORT; default: no metrics endpoint)",
    )
    parser.add_argument(
        "--metrics-host",
        default=env("SWFBRIDGE_METRICS_HOST", "127.0.0.1"),
        metavar="HOST",
        help="interface of the metrics endpoint (env SWFBRIDGE_METRICS_HOST; "
        "default 127.0.0.1, loopback only; 0.0.0.0 exposes it)",
    )
    add_swf_args(parser)
    add_logging_args(parser)
    parser.set_defaults(handler=run)


# Poll threads per process: each keeps a producer, and so one of the 10 broker
# connections of Celery's pool, for good; the lost-job recovery thread keeps
# one too, and the readiness check and the look into the broker take one each.
MAX_POLL_THREADS = 6


def _int_env(name: str) -> int | None:
    value = env(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"swfbridge: error: {name} must be an integer, got {value!r}") from None


def run(args: argparse.Namespace) -> int:
    from swfbridge.poller.metrics import MetricsServer, PollerMetrics

    setup_logging(args.log_level)
    if not 1 <= args.pollers <= MAX_POLL_THREADS:
        return error(
            f"--pollers must be within 1-{MAX_POLL_THREADS}, got {args.pollers} (each poll "
            "thread keeps a broker connection of Celery's pool of 10): run another "
            "swfbridge poll process for more"
        )
    metrics = server = None
    if args.metrics_port is not None:
        if not 0 <= args.metrics_port <= 65535:
            return error(f"--metrics-port must be within 0-65535, got {args.metrics_port}")
        metrics = PollerMetrics()
        try:  # bound before anything else starts, so a busy port fails fast
            server = MetricsServer(
                render=metrics.render, host=args.metrics_host, port=args.metrics_port
            )
        except OSError as exc:
            return error(
                f"cannot serve metrics on {args.metrics_host}:{args.metrics_port}: "
                f"{exc.strerror or exc}"
            )
    try:
        try:
            poller = _build(args, metrics)
        except (UsageError, ConfigurationError, ValueError) as exc:
            return error(str(exc))
        except SwfError as exc:  # retried if transient; what is left is for good
            return error(f"cannot poll SWF: {exc.message or exc}")
        if metrics is not None and server is not None:
            metrics.watch(poller)
            server.start()
            log.info("metrics at %s", server.url)
        return _serve(poller)
    finally:
        if server is not None:
            server.stop()


def _build(args: argparse.Namespace, metrics: Any = None) -> Any:
    from swfbridge.aws.swf import SwfClient
    from swfbridge.poller.build import build_poller, celery_dispatcher
    from swfbridge.poller.loop import PollerConfig, default_identity
    from swfbridge.poller.timeouts import TimeoutPolicy
    from swfbridge.state.store import BridgeState, StateConfig
    from swfbridge.state.store import state_url as state_url_for

    domain = require(args.domain, "--domain", "SWFBRIDGE_DOMAIN")
    task_list = require(args.task_list, "--task-list", "SWFBRIDGE_TASK_LIST")
    if args.timeouts_from not in ("history", "registration"):
        raise UsageError(
            f"SWFBRIDGE_TIMEOUTS_FROM must be 'history' or 'registration', got "
            f"{args.timeouts_from!r}"
        )
    load_modules(parse_module_list(args.activities))
    task_map = None
    if args.task_map:
        task_map = load_task_map(args.task_map, wire_format=wire_format(args.wire_format))
    state_url = state_url_for(args.state_url, str(args.broker))
    if args.max_in_flight is not None and state_url is None:
        raise UsageError(
            "--max-in-flight needs a Redis for its slots: give --state-url "
            "(or SWFBRIDGE_STATE_URL) when the broker is not Redis"
        )
    _check_sqs(str(args.broker), args.queue, state_url)
    config = PollerConfig(
        domain=domain,
        task_list=task_list,
        identity=args.identity or default_identity(),
        pollers=args.pollers,
        max_in_flight=args.max_in_flight,
    )
    state = None if state_url is None else BridgeState(config=StateConfig(url=state_url))
    if metrics is not None:
        from swfbridge.poller.metrics import MeteredSwfClient

        swf: SwfClient = MeteredSwfClient(config=swf_client_config(args), metrics=metrics)
    else:
        swf = SwfClient(config=swf_client_config(args))
    # Fail fast: no region, credentials SWF refuses, or no such domain. SWF being
    # unreachable is transient: the poll loop keeps retrying that.
    try:
        check_domain(swf, domain)
    except SwfError as exc:
        if is_misconfiguration(exc):
            raise
        log.warning("could not check the domain (%s); polling anyway", exc)
    log.info(
        "swfbridge poll starting: domain=%s task_list=%s queue=%s pollers=%d "
        "max_in_flight=%s timeouts_from=%s broker=%s state=%s identity=%s activities=%d "
        "known celery_tasks=%d mapped swf_calls=%s",
        domain,
        task_list,
        args.queue or "(app default)",
        config.pollers,
        config.max_in_flight or "unlimited",
        args.timeouts_from,
        redact_url(args.broker),
        redact_url(state_url) if state_url else "(none)",
        config.identity,
        len(default_registry),
        len(task_map) if task_map is not None else 0,
        "direct" if swf.sends_directly else "boto3",
    )
    if args.timeouts_from == "registration":
        log.warning(
            "--timeouts-from registration: a task whose decider sets its own "
            "start-to-close or heartbeat timeout is paced and bounded by the type's "
            "registered ones instead, and SWF may time it out while it runs"
        )
    if config.max_in_flight is None:
        log.warning(
            "no --max-in-flight: polling regardless of the fleet's capacity; under "
            "load, tasks wait in the broker while their SWF clocks run"
        )
    return build_poller(
        config=config,
        swf=swf,
        dispatcher=celery_dispatcher(args.broker, queue=args.queue, task_map=task_map),
        timeouts_from=TimeoutPolicy(args.timeouts_from),
        state=state,
    )


def _check_sqs(broker: str, queue: str | None, state_url: str | None) -> None:
    """Refuse, at start, an SQS fleet that would run attempts twice or a queue SQS refuses."""
    from swfbridge.sqs import NEEDS_STATE, is_sqs, queue_name_problem

    if not is_sqs(broker):
        return
    if state_url is None:
        raise UsageError(NEEDS_STATE)
    problem = queue_name_problem(queue or "celery")
    if problem is not None:
        raise UsageError(problem)


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
    stopping_logged = False
    while not poller.join(timeout_s=0.2):
        if poller.stopping and not stopping_logged:
            stopping_logged = True
            log.info(
                "stopping: no new polls; waiting for polls under way (a second signal "
                "exits at once)"
            )
        if forced.is_set():
            log.warning("second signal: exiting now, abandoning polls under way")
            failed = poller.abort()
            if failed:
                log.warning("failed %d task(s) still held ('poller shutting down')", failed)
            _summary(poller)
            return 1
    _summary(poller)
    if poller.fatal_error is not None:
        print(f"swfbridge: error: {poller.fatal_error.message}", file=sys.stderr)
        return 2
    return 0


def _summary(poller: Any) -> None:
    counts = poller.counts
    log.info(
        "swfbridge poll stopped: %s",
        " ".join(f"{name}={value}" for name, value in sorted(counts.items())),
    )
    sys.stderr.flush()
