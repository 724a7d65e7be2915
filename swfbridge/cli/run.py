"""``swfbridge run``: start a workflow that runs activities, and watch it.

A first-steps tool: it starts one workflow execution (of a workflow type of
its own, registered if missing), schedules the given activities in its first
decision, prints the history as it goes and completes the workflow once every
activity has closed. It is the decider of :mod:`swfbridge.decider`; real
workflows have deciders of their own.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from swfbridge.cli._common import (
    UsageError,
    add_logging_args,
    add_swf_args,
    env,
    error,
    require,
    setup_logging,
    swf_client_config,
)

WORKFLOW_NAME = "swfbridge-run"
WORKFLOW_VERSION = "1"
DEFAULT_TIMEOUT_S = 300.0
# Name@version, and not JSON: a JSON input with an "@" is a quoted string.
_TYPE_PATTERN = re.compile(r"^[^\s\[\]{}\"]+@\S+$")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="start a workflow that runs the given activities, and watch it to the end",
        description=(
            "Start one workflow execution that schedules the given activities (each "
            "TYPE is Name@version, optionally followed by its INPUT, the JSON text the "
            "activity receives, e.g. '[[\"Ada\"], {}]'), print each activity as it is "
            "scheduled, starts and closes, and complete the workflow once all have "
            "closed. A first-steps tool: the workflow type 'swfbridge-run' version 1 is "
            "registered if missing; the activity types must be registered (swfbridge "
            "register) and a poller and a worker must serve the task list. Exits 0 when "
            "every activity completed, 1 otherwise, 2 on bad options."
        ),
    )
    parser.add_argument(
        "activities",
        nargs="+",
        metavar="TYPE [INPUT]",
        help="activity type as Name@version, each optionally followed by its input",
    )
    parser.add_argument(
        "--domain", default=env("SWFBRIDGE_DOMAIN"), help="SWF domain (env SWFBRIDGE_DOMAIN)"
    )
    parser.add_argument(
        "--task-list",
        default=env("SWFBRIDGE_TASK_LIST"),
        help="activity task list to schedule on (env SWFBRIDGE_TASK_LIST)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="give up (and terminate the workflow) if the activities have not "
        f"all closed by then (default {DEFAULT_TIMEOUT_S:.0f})",
    )
    parser.add_argument(
        "--workflow-id", default=None, help="workflow id (default: swfbridge-run-<random>)"
    )
    add_swf_args(parser)
    parser.add_argument(
        "--quiet", action="store_true", help="print only the outcome of each activity"
    )
    add_logging_args(parser)
    parser.set_defaults(handler=run)


def parse_activities(tokens: Sequence[str]) -> list[tuple[str, str, str | None]]:
    """``[Name@version [INPUT]] ...`` as (name, version, input) triples.

    Raises:
        UsageError: an input comes first, two inputs follow one type, or a type
            has an empty name or version.
    """
    parsed: list[tuple[str, str, str | None]] = []
    for token in tokens:
        if _TYPE_PATTERN.match(token) and not _is_json(token):
            name, _, version = token.rpartition("@")
            if not name or not version:
                raise UsageError(f"activity type {token!r} must be Name@version")
            parsed.append((name, version, None))
            continue
        if not parsed or parsed[-1][2] is not None:
            raise UsageError(
                f"{token!r} is not an activity type (Name@version), and no type "
                "before it waits for an input"
            )
        name, version, _ = parsed[-1]
        parsed[-1] = (name, version, token)
    return parsed


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def run(args: argparse.Namespace) -> int:
    from swfbridge import decider
    from swfbridge.aws.swf import SwfClient, SwfError, check_domain

    setup_logging(args.log_level)
    try:
        domain = require(args.domain, "--domain", "SWFBRIDGE_DOMAIN")
        task_list = require(args.task_list, "--task-list", "SWFBRIDGE_TASK_LIST")
        wanted = parse_activities(args.activities)
    except UsageError as exc:
        return error(str(exc))
    if args.timeout <= 0:
        return error("--timeout must be positive")

    swf = SwfClient(config=swf_client_config(args))
    try:
        check_domain(swf, domain)
    except SwfError as exc:
        return error(exc.message)

    counts: dict[str, int] = {}
    scheduled = []
    for name, version, text in wanted:
        counts[name] = counts.get(name, 0) + 1
        scheduled.append(
            decider.ScheduledActivity(
                activity_id=f"{name}-{counts[name]}", name=name, version=version, input=text
            )
        )
    workflow_id = args.workflow_id or f"swfbridge-run-{uuid.uuid4().hex[:12]}"
    watcher = _Watcher(quiet=args.quiet)
    print(
        f"workflow {workflow_id}: starting in domain {domain}, activities on task list {task_list}",
        flush=True,
    )
    try:
        outcomes = decider.run_activities(
            swf.boto,
            domain=domain,
            task_list=task_list,
            activities=scheduled,
            timeout_s=args.timeout,
            workflow_id=workflow_id,
            identity="swfbridge-run",
            workflow_type=(WORKFLOW_NAME, WORKFLOW_VERSION),
            create_domain=False,
            on_event=watcher.on_event,
        )
    except decider.DeciderTimeout:
        return _failed(
            f"not every activity closed within {args.timeout:g}s (the workflow was "
            f"terminated): is 'swfbridge poll --domain {domain} --task-list "
            f"{task_list}' running, and a 'celery -A swfbridge worker' importing "
            "the activities?"
        )
    except Exception as exc:  # botocore's ClientError and network errors, said in one line
        return _failed(f"{type(exc).__name__}: {exc}")

    for outcome in outcomes.values():
        print(_outcome_line(outcome), flush=True)
    completed = sum(o.status == "completed" for o in outcomes.values())
    verdict = "completed" if completed == len(outcomes) else "not all completed"
    print(
        f"workflow {workflow_id}: {completed}/{len(outcomes)} activities completed ({verdict})",
        flush=True,
    )
    for outcome in outcomes.values():
        if outcome.status == "schedule_failed" and outcome.reason == (
            "ACTIVITY_TYPE_DOES_NOT_EXIST"
        ):
            print(
                f"hint: register the activity types: swfbridge register --domain {domain} "
                "--activities <your modules>",
                file=sys.stderr,
            )
            break
    return 0 if completed == len(outcomes) else 1


def _failed(message: str) -> int:
    print(f"swfbridge: error: {message}", file=sys.stderr)
    return 1


def _outcome_line(outcome: Any) -> str:
    if outcome.status == "completed":
        detail = outcome.result if outcome.result is not None else "(no result)"
    elif outcome.status == "timed_out":
        detail = f"{outcome.timeout_type} {outcome.details or ''}".rstrip()
    else:
        detail = " ".join(str(p) for p in (outcome.reason, outcome.details) if p)
    return f"  {outcome.activity_id:<20} {outcome.status:<15} {_short(detail)}"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Watcher:
    """Prints the history events that say how each activity is doing."""

    def __init__(self, *, quiet: bool) -> None:
        self._quiet = quiet
        self._by_scheduled_id: dict[int, str] = {}

    def on_event(self, event: Mapping[str, Any]) -> None:
        kind = str(event["eventType"])
        attrs: Mapping[str, Any] = event.get(kind[0].lower() + kind[1:] + "EventAttributes", {})
        if kind == "ActivityTaskScheduled":
            self._by_scheduled_id[int(event["eventId"])] = str(attrs["activityId"])
        if self._quiet:
            return
        activity_id = self._by_scheduled_id.get(
            int(attrs.get("scheduledEventId", 0) or 0), str(attrs.get("activityId", ""))
        )
        line = {
            "ActivityTaskScheduled": "scheduled",
            "ScheduleActivityTaskFailed": f"not scheduled: {attrs.get('cause')}",
            "ActivityTaskStarted": f"started by {attrs.get('identity', '?')}",
            "ActivityTaskCompleted": "completed",
            "ActivityTaskFailed": f"failed: {attrs.get('reason')}",
            "ActivityTaskTimedOut": f"timed out ({attrs.get('timeoutType')})",
            "ActivityTaskCanceled": "canceled",
        }.get(kind)
        if line is not None:
            print(f"  {activity_id:<20} {line}", flush=True)
