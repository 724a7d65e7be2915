"""Registering activity types with SWF: list first, register what is missing,
and refuse to paper over a type whose registered defaults differ."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from swfbridge.activities.options import ActivityOptions
from swfbridge.aws.swf import SwfClient, TypeAlreadyExists

# Defaults of a workflow type registered for a decider; a decider can override
# each when it starts an execution.
WORKFLOW_DECISION_TIMEOUT_S = 30
WORKFLOW_EXECUTION_TIMEOUT_S = 86400
WORKFLOW_CHILD_POLICY = "TERMINATE"


class Status(str, enum.Enum):
    MISSING = "missing"  # will be registered
    REGISTERED = "registered"  # exists with the same defaults
    DIFFERS = "differs"  # exists with other defaults: needs a new version
    DEPRECATED = "deprecated"  # exists but deprecated: cannot be used or re-registered


@dataclass(frozen=True)
class PlanItem:
    """What registration would do for one activity type."""

    options: ActivityOptions
    status: Status
    differences: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    created: bool = False  # registered by this run

    def describe(self, *, dry_run: bool = False) -> str:
        """One line for the operator: the type, what SWF has, what happens."""
        label = f"{self.options.name} {self.options.version}"
        if self.status is Status.DIFFERS:
            diffs = "; ".join(
                f"{key}: registered {have!r}, code says {want!r}"
                for key, (have, want) in sorted(self.differences.items())
            )
            return (
                f"{label}: registered with different defaults ({diffs}). SWF types are "
                "immutable: give the activity a new version."
            )
        if self.status is Status.DEPRECATED:
            return f"{label}: deprecated in SWF; it cannot be registered again (new version)"
        if self.status is Status.MISSING:
            return f"{label}: not registered yet" + (", would be registered" if dry_run else "")
        if self.created:
            return f"{label}: registered now"
        return f"{label}: already registered, same defaults"


def summary(items: Iterable[PlanItem], *, dry_run: bool) -> str:
    """A last line counting each status, e.g. ``4 types: 1 registered now, 3 unchanged``."""
    items = list(items)
    counts = {
        "would be registered" if dry_run else "not registered": sum(
            i.status is Status.MISSING for i in items
        ),
        "registered now": sum(i.created for i in items),
        "unchanged": sum(i.status is Status.REGISTERED and not i.created for i in items),
        "differ": sum(i.status is Status.DIFFERS for i in items),
        "deprecated": sum(i.status is Status.DEPRECATED for i in items),
    }
    parts = ", ".join(f"{n} {label}" for label, n in counts.items() if n)
    return f"{len(items)} types: {parts or 'none'}" + (
        " (dry run: nothing changed)" if dry_run else ""
    )


def wanted_configuration(options: ActivityOptions) -> dict[str, str | None]:
    """The type configuration as ``DescribeActivityType`` reports it."""
    wanted: dict[str, str | None] = dict(options.registration_defaults())
    wanted["defaultTaskList"] = options.task_list
    if options.description is not None:
        wanted["description"] = options.description
    return wanted


def _registered_configuration(answer: dict[str, Any]) -> dict[str, str | None]:
    config = dict(answer.get("configuration", {}))
    task_list = config.pop("defaultTaskList", None)
    have: dict[str, str | None] = {k: str(v) for k, v in config.items()}
    have["defaultTaskList"] = task_list.get("name") if isinstance(task_list, dict) else None
    description = answer.get("typeInfo", {}).get("description")
    have["description"] = description
    return have


def _list_types(
    swf: SwfClient, domain: str, status: str, *, kind: str = "activity"
) -> set[tuple[str, str]]:
    """(name, version) of every ``kind`` type ("activity" or "workflow") with ``status``."""
    found: set[tuple[str, str]] = set()
    token: str | None = None
    while True:
        params: dict[str, Any] = {
            "domain": domain,
            "registrationStatus": status,
            "maximumPageSize": 1000,
        }
        if token:
            params["nextPageToken"] = token
        page = swf.call(f"list_{kind}_types", **params)
        for info in page.get("typeInfos", []):
            swf_type = info[f"{kind}Type"]
            found.add((swf_type["name"], swf_type["version"]))
        token = page.get("nextPageToken")
        if not token:
            return found


def plan(swf: SwfClient, domain: str, types: Iterable[ActivityOptions]) -> list[PlanItem]:
    """Compare the wanted types with what SWF has (listing first: one call per
    page, plus one describe per existing type, so a big fleet starting up does
    not storm SWF with registrations)."""
    registered = _list_types(swf, domain, "REGISTERED")
    deprecated = _list_types(swf, domain, "DEPRECATED")
    items = []
    for options in types:
        if options.key in deprecated:
            items.append(PlanItem(options, Status.DEPRECATED))
        elif options.key not in registered:
            items.append(PlanItem(options, Status.MISSING))
        else:
            items.append(_compare(swf, domain, options))
    return items


def _compare(swf: SwfClient, domain: str, options: ActivityOptions) -> PlanItem:
    answer = swf.call(
        "describe_activity_type",
        domain=domain,
        activityType={"name": options.name, "version": options.version},
    )
    have = _registered_configuration(answer)
    differences = {
        key: (have.get(key), want)
        for key, want in wanted_configuration(options).items()
        if have.get(key) != want
    }
    return PlanItem(options, Status.DIFFERS if differences else Status.REGISTERED, differences)


def register_missing(swf: SwfClient, domain: str, items: Iterable[PlanItem]) -> list[PlanItem]:
    """Register the MISSING types of a plan; returns the resulting items.

    A type registered meanwhile by someone else is compared again, not failed.
    """
    result = []
    for item in items:
        if item.status is not Status.MISSING:
            result.append(item)
            continue
        params: dict[str, Any] = {
            "domain": domain,
            "name": item.options.name,
            "version": item.options.version,
            **item.options.registration_defaults(),
        }
        if item.options.task_list is not None:
            params["defaultTaskList"] = {"name": item.options.task_list}
        if item.options.description is not None:
            params["description"] = item.options.description
        try:
            swf.call("register_activity_type", **params)
            result.append(PlanItem(item.options, Status.REGISTERED, created=True))
        except TypeAlreadyExists:
            result.append(_compare(swf, domain, item.options))
    return result


@dataclass(frozen=True)
class WorkflowPlanItem:
    """What registration would do for one workflow type (existing ones are not
    compared: their defaults only apply when a decider does not give its own)."""

    name: str
    version: str
    status: Status
    created: bool = False

    def describe(self, *, dry_run: bool = False) -> str:
        """One line for the operator."""
        label = f"workflow type {self.name} {self.version}"
        if self.status is Status.DEPRECATED:
            return f"{label}: deprecated in SWF; it cannot be registered again (new version)"
        if self.status is Status.MISSING:
            return f"{label}: not registered yet" + (", would be registered" if dry_run else "")
        return f"{label}: " + ("registered now" if self.created else "already registered")


def plan_workflow_types(
    swf: SwfClient, domain: str, types: Iterable[tuple[str, str]]
) -> list[WorkflowPlanItem]:
    """Which of the (name, version) workflow types exist, are deprecated or missing."""
    types = list(types)
    if not types:
        return []
    registered = _list_types(swf, domain, "REGISTERED", kind="workflow")
    deprecated = _list_types(swf, domain, "DEPRECATED", kind="workflow")
    return [
        WorkflowPlanItem(
            name,
            version,
            Status.DEPRECATED
            if (name, version) in deprecated
            else Status.REGISTERED
            if (name, version) in registered
            else Status.MISSING,
        )
        for name, version in types
    ]


def register_missing_workflow_types(
    swf: SwfClient, domain: str, items: Iterable[WorkflowPlanItem]
) -> list[WorkflowPlanItem]:
    """Register the MISSING workflow types of a plan, with the defaults above."""
    result = []
    for item in items:
        if item.status is not Status.MISSING:
            result.append(item)
            continue
        try:
            swf.call(
                "register_workflow_type",
                domain=domain,
                name=item.name,
                version=item.version,
                defaultTaskStartToCloseTimeout=str(WORKFLOW_DECISION_TIMEOUT_S),
                defaultExecutionStartToCloseTimeout=str(WORKFLOW_EXECUTION_TIMEOUT_S),
                defaultChildPolicy=WORKFLOW_CHILD_POLICY,
            )
            result.append(
                WorkflowPlanItem(item.name, item.version, Status.REGISTERED, created=True)
            )
        except TypeAlreadyExists:
            result.append(WorkflowPlanItem(item.name, item.version, Status.REGISTERED))
    return result
