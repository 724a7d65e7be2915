"""``swfbridge register``: register activity types with SWF."""

from __future__ import annotations

import argparse
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
from swfbridge.errors import ConfigurationError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "register",
        help="register the activity types defined in modules with SWF",
        description=(
            "Register the activity types defined in the given modules with SWF. Lists "
            "the domain's types first and registers only what is missing. A type that "
            "exists with different defaults is reported and the command exits 1: SWF "
            "types are immutable, so the fix is a new version. --create-domain registers "
            "the domain when it is missing, --workflow-type the workflow types your "
            "decider starts; --dry-run shows the plan and changes nothing."
        ),
    )
    parser.add_argument(
        "--domain", default=env("SWFBRIDGE_DOMAIN"), help="SWF domain (env SWFBRIDGE_DOMAIN)"
    )
    parser.add_argument(
        "--activities",
        default=env("SWFBRIDGE_ACTIVITIES"),
        help="comma-separated modules defining activities (env SWFBRIDGE_ACTIVITIES)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show the plan (what exists, would be registered, differs) and change nothing",
    )
    parser.add_argument(
        "--create-domain",
        action="store_true",
        help="register the domain first if it does not exist",
    )
    parser.add_argument(
        "--retention-days",
        type=int,
        default=7,
        help="retention of a domain created by --create-domain (default 7)",
    )
    parser.add_argument(
        "--workflow-type",
        action="append",
        default=[],
        metavar="NAME@VERSION",
        help="also register this workflow type if it is missing (repeatable): "
        "decision tasks 30 s, executions 1 day, child policy TERMINATE by "
        "default (a decider can override each when it starts an execution)",
    )
    add_swf_args(parser)
    add_logging_args(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from swfbridge.activities import registration
    from swfbridge.activities.registry import default_registry, load_modules, parse_module_list
    from swfbridge.aws.retry import Backoff
    from swfbridge.aws.swf import (
        DomainAlreadyExists,
        SwfClient,
        SwfClientConfig,
        SwfError,
        UnknownResource,
    )

    setup_logging(args.log_level)
    try:
        domain = require(args.domain, "--domain", "SWFBRIDGE_DOMAIN")
        workflow_types = [_workflow_type(text) for text in args.workflow_type]
        modules: list[str] = []
        if args.activities or not workflow_types:
            modules = parse_module_list(
                require(args.activities, "--activities", "SWFBRIDGE_ACTIVITIES")
            )
            load_modules(modules)
    except (UsageError, ConfigurationError) as exc:
        return error(str(exc))
    if modules and not len(default_registry):
        return error(f"no activities are defined in {', '.join(modules)}")

    base = swf_client_config(args)
    # Registration storms get throttled: be patient, with jitter.
    swf = SwfClient(
        config=SwfClientConfig(
            region=base.region,
            endpoint_url=base.endpoint_url,
            backoff=Backoff(base_s=0.5, cap_s=20.0, max_attempts=10),
        )
    )
    try:
        if args.create_domain and not args.dry_run:
            try:
                swf.call(
                    "register_domain",
                    name=domain,
                    workflowExecutionRetentionPeriodInDays=str(args.retention_days),
                )
                print(f"domain {domain}: registered")
            except DomainAlreadyExists:
                pass
        wanted = [e.options for e in default_registry] if modules else []
        try:
            items = registration.plan(swf, domain, wanted)
            workflows = registration.plan_workflow_types(swf, domain, workflow_types)
        except UnknownResource:
            if not (args.dry_run and args.create_domain):
                return error(
                    f"domain {domain!r} does not exist (add --create-domain to register it)"
                )
            print(f"domain {domain}: does not exist, would be registered")
            items = [registration.PlanItem(o, registration.Status.MISSING) for o in wanted]
            workflows = [
                registration.WorkflowPlanItem(n, v, registration.Status.MISSING)
                for n, v in workflow_types
            ]
        if not args.dry_run:
            items = registration.register_missing(swf, domain, items)
            workflows = registration.register_missing_workflow_types(swf, domain, workflows)
    except SwfError as exc:
        return error(str(exc))

    for workflow in workflows:
        print(workflow.describe(dry_run=args.dry_run))
    if not items:
        return 0
    for item in items:
        print(item.describe(dry_run=args.dry_run))
    print(registration.summary(items, dry_run=args.dry_run))
    bad = [
        i
        for i in items
        if i.status in (registration.Status.DIFFERS, registration.Status.DEPRECATED)
    ]
    return 1 if bad else 0


def _workflow_type(text: str) -> tuple[str, str]:
    name, _, version = text.rpartition("@")
    if not name or not version:
        raise UsageError(f"--workflow-type {text!r} must be NAME@VERSION")
    return name, version
