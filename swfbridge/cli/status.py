"""``swfbridge status``: a quick look at one task list, from SWF to the workers."""

from __future__ import annotations

import argparse
import json
import re
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
from swfbridge.sqs import is_sqs
from swfbridge.wire.job import TIMEOUT_SOURCES

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "celery"
ATTEMPT_ID_PREFIX = "swf-"  # every job the poller publishes has a task id "swf-<hash>"
_SOURCE_IN_REPR = re.compile(r"timeouts=([a-z-]+)")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show tasks pending in SWF, jobs queued in the broker and jobs in flight",
        description=(
            "A quick look at one task list: activity tasks pending in SWF "
            "(CountPendingActivityTasks), jobs waiting in the Celery queue the poller "
            "publishes to, and swfbridge jobs the workers hold (running or reserved, asked "
            "with Celery's remote control, which waits --inspect-timeout for answers). Exits "
            "0 when every figure could be read, 1 otherwise."
        ),
    )
    parser.add_argument(
        "--domain", default=env("SWFBRIDGE_DOMAIN"), help="SWF domain (env SWFBRIDGE_DOMAIN)"
    )
    parser.add_argument(
        "--task-list",
        default=env("SWFBRIDGE_TASK_LIST"),
        help="SWF task list (env SWFBRIDGE_TASK_LIST)",
    )
    parser.add_argument(
        "--queue",
        default=env("SWFBRIDGE_QUEUE", DEFAULT_QUEUE),
        help="Celery queue the poller publishes to (env SWFBRIDGE_QUEUE; "
        f"default {DEFAULT_QUEUE!r})",
    )
    parser.add_argument(
        "--broker",
        default=env("CELERY_BROKER_URL", DEFAULT_BROKER_URL),
        help=f"Celery broker URL (env CELERY_BROKER_URL; default {DEFAULT_BROKER_URL})",
    )
    parser.add_argument(
        "--state-url",
        default=env("SWFBRIDGE_STATE_URL"),
        help="Redis of the pollers' capacity slots (env SWFBRIDGE_STATE_URL; "
        "default: the broker when it is Redis)",
    )
    parser.add_argument(
        "--inspect-timeout",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how long to wait for workers' answers (default 1)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of text (for scripts)"
    )
    add_swf_args(parser)
    add_logging_args(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    try:
        domain = require(args.domain, "--domain", "SWFBRIDGE_DOMAIN")
        task_list = require(args.task_list, "--task-list", "SWFBRIDGE_TASK_LIST")
        if args.inspect_timeout <= 0:
            raise UsageError("--inspect-timeout must be positive")
    except UsageError as exc:
        return error(str(exc))
    report: dict[str, Any] = {
        "domain": domain,
        "task_list": task_list,
        "queue": args.queue,
        "broker": redact_url(args.broker),
    }
    problems: dict[str, str] = {}
    try:
        report["pending_in_swf"], report["pending_truncated"] = _pending(args, domain, task_list)
    except Exception as exc:  # one figure failing must not hide the others
        problems["pending_in_swf"] = _describe(exc)
    app = _celery_app(args.broker)
    if is_sqs(args.broker):
        try:
            report.update(_sqs_counts(app, args.queue))
        except Exception as exc:
            problems["queued_in_broker"] = problems["in_flight"] = _describe(exc)
    else:
        from kombu.exceptions import OperationalError

        try:
            report["queued_in_broker"] = _queued(app, args.queue)
        except OperationalError as exc:
            # The broker cannot be reached: asking its workers would only try
            # again (Celery's remote control retries its connection for ~6 s).
            problems["queued_in_broker"] = problems["in_flight"] = _describe(exc)
        except Exception as exc:
            problems["queued_in_broker"] = _describe(exc)
        if "in_flight" not in problems:
            try:
                report.update(_in_flight(app, args.inspect_timeout))
            except Exception as exc:
                problems["in_flight"] = _describe(exc)
    from swfbridge.state.store import state_url as state_url_for

    state_url = state_url_for(args.state_url, str(args.broker))
    if state_url:
        try:
            report["slots_held"] = _slots_held(state_url, domain, task_list)
        except Exception as exc:
            problems["slots_held"] = _describe(exc)
    report["errors"] = problems
    print(json.dumps(report) if args.json else _text(report))
    return 1 if problems else 0


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _pending(args: argparse.Namespace, domain: str, task_list: str) -> tuple[int, bool]:
    from swfbridge.aws.retry import Backoff
    from swfbridge.aws.swf import SwfClient, SwfClientConfig

    base = swf_client_config(args)
    swf = SwfClient(
        config=SwfClientConfig(
            region=base.region,
            endpoint_url=base.endpoint_url,
            read_timeout_s=10.0,
            connect_timeout_s=5.0,
            backoff=Backoff(max_attempts=2),
        )
    )
    answer = swf.call("count_pending_activity_tasks", domain=domain, taskList={"name": task_list})
    return int(answer.get("count", 0)), bool(answer.get("truncated", False))


def _slots_held(state_url: str, domain: str, task_list: str) -> int:
    from swfbridge.state.store import BridgeState, StateConfig

    state = BridgeState(config=StateConfig(url=state_url))
    return int(state.in_flight(domain, task_list))


def _celery_app(broker: str) -> Any:
    from celery import Celery

    app = Celery("swfbridge-status", broker=broker)
    app.conf.update(
        accept_content=["json"], broker_connection_retry=False, broker_connection_timeout=5.0
    )
    return app


def _queued(app: Any, queue: str) -> int:
    from kombu.exceptions import ChannelError

    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1)
        try:
            # Counts every priority level on Redis, where a bare LLEN would not.
            declared = connection.default_channel.queue_declare(queue=queue, passive=True)
        except ChannelError:
            return 0  # no such queue (Redis drops empty ones): nothing waiting
        return int(declared.message_count)


def _sqs_counts(app: Any, queue: str) -> dict[str, Any]:
    """Jobs waiting, and jobs received by workers and not yet deleted, as SQS counts them.

    Asked of SQS directly: a passive declare through kombu would create a
    missing queue, and Celery's remote control needs a broadcast SQS does not
    have (``inspect`` would reach no worker and show 0).
    """
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        name = channel.canonical_queue_name(queue)
        client = channel.sqs(queue=name)
        try:
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
        except client.exceptions.QueueDoesNotExist:
            raise LookupError(f"no SQS queue named {name!r}") from None
        attributes = client.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
    return {
        "queued_in_broker": int(attributes["ApproximateNumberOfMessages"]),
        "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        "from": "sqs",
    }


def _in_flight(app: Any, timeout_s: float) -> dict[str, Any]:
    # Each inspect call waits the whole timeout for answers: two calls, no more.
    inspect = app.control.inspect(timeout=timeout_s)
    active = inspect.active() or {}
    reserved = inspect.reserved() or {}
    running, waiting = _jobs(active), _jobs(reserved)
    sources: dict[str, int] = {}
    for job in running + waiting:
        source = _timeouts_source(job)
        sources[source] = sources.get(source, 0) + 1
    return {
        "in_flight": len(running) + len(waiting),
        "running": len(running),
        "reserved": len(waiting),
        "workers_answered": len(set(active) | set(reserved)),
        "timeouts_from": sources,
    }


def _jobs(replies: dict[str, list[dict[str, Any]]] | None) -> list[dict[str, Any]]:
    return [
        job
        for jobs in (replies or {}).values()
        for job in jobs
        if str(job.get("id", "")).startswith(ATTEMPT_ID_PREFIX)
    ]


def _timeouts_source(job: dict[str, Any]) -> str:
    """Where the poller took a held job's timeouts from (see swfbridge.poller.timeouts)."""
    args = job.get("args")
    if isinstance(args, (list, tuple)) and args and isinstance(args[0], dict):
        source = args[0].get("timeouts_source")  # a bridge job: its own message
        if isinstance(source, str):
            return source if source in TIMEOUT_SOURCES else "unknown"
    found = _SOURCE_IN_REPR.search(str(args))  # Celery's safe form: the argsrepr
    return found.group(1) if found and found.group(1) in TIMEOUT_SOURCES else "unknown"


def _text(report: dict[str, Any]) -> str:
    problems: dict[str, str] = report["errors"]

    def line(label: str, key: str, shown: str) -> str:
        value = f"unavailable ({problems[key]})" if key in problems else shown
        return f"  {label:<18} {value}"

    truncated = " (truncated: at least this many)" if report.get("pending_truncated") else ""
    lines = [
        f"domain {report['domain']}, task list {report['task_list']}",
        line("pending in SWF:", "pending_in_swf", f"{report.get('pending_in_swf')}{truncated}"),
        line(
            "queued in broker:",
            "queued_in_broker",
            f"{report.get('queued_in_broker')}  (queue {report['queue']!r} at {report['broker']})",
        ),
        line(
            "in flight:",
            "in_flight",
            f"{report.get('in_flight')}  (received by workers, not yet deleted: SQS's count)"
            if report.get("from") == "sqs"
            else f"{report.get('in_flight')}  ({report.get('running')} running, "
            f"{report.get('reserved')} reserved; {report.get('workers_answered')} workers "
            "answered)",
        ),
    ]
    if report.get("timeouts_from"):
        shown = ", ".join(
            f"{source} {count}" for source, count in sorted(report["timeouts_from"].items())
        )
        lines.append(
            line(
                "timeouts from:",
                "in_flight",
                f"{shown}  (of the jobs in flight; 'history' is each task's "
                "scheduled event, what SWF applies)",
            )
        )
    if "slots_held" in report or "slots_held" in problems:
        lines.append(
            line(
                "capacity slots:",
                "slots_held",
                f"{report.get('slots_held')}  (jobs in flight and polls under "
                "way, in the state store; --max-in-flight caps them)",
            )
        )
    return "\n".join(lines)
