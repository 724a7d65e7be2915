"""Registration planning: list first, compare, register only what is missing."""

from __future__ import annotations

from typing import Any

from swfbridge import ActivityOptions
from swfbridge.activities.registration import PlanItem, Status, plan, register_missing, summary
from swfbridge.aws.swf import SwfClient, TypeAlreadyExists

WANTED = ActivityOptions(name="Resize", version="1", task_list="images", start_to_close_s=60)


class FakeSwf(SwfClient):
    """Answers list/describe/register from a dict of registered configurations."""

    def __init__(
        self,
        registered: dict[tuple[str, str], dict[str, Any]],
        deprecated: set[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(client=object())
        self.registered = registered
        self.deprecated = deprecated or set()
        self.calls: list[str] = []
        self.race = False

    def call(self, operation: str, **params: Any) -> dict[str, Any]:  # type: ignore[override]
        self.calls.append(operation)
        if operation == "list_activity_types":
            keys = (
                self.registered if params["registrationStatus"] == "REGISTERED" else self.deprecated
            )
            return {"typeInfos": [{"activityType": {"name": n, "version": v}} for n, v in keys]}
        if operation == "describe_activity_type":
            key = (params["activityType"]["name"], params["activityType"]["version"])
            return {"configuration": self.registered[key], "typeInfo": {}}
        if operation == "register_activity_type":
            if self.race:
                self.registered[(params["name"], params["version"])] = _config(WANTED)
                raise TypeAlreadyExists("register_activity_type", "TypeAlreadyExistsFault", "")
            return {}
        raise AssertionError(operation)


def _config(options: ActivityOptions, **changes: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(options.registration_defaults())
    config["defaultTaskList"] = {"name": options.task_list}
    config.update(changes)
    return config


def test_a_type_swf_lacks_is_planned_as_missing_without_a_describe_call() -> None:
    swf = FakeSwf({})

    assert [i.status for i in plan(swf, "d", [WANTED])] == [Status.MISSING]
    assert "describe_activity_type" not in swf.calls


def test_a_type_with_the_same_defaults_is_registered_and_one_with_others_differs() -> None:
    same = plan(FakeSwf({WANTED.key: _config(WANTED)}), "d", [WANTED])
    other = plan(
        FakeSwf({WANTED.key: _config(WANTED, defaultTaskStartToCloseTimeout="30")}), "d", [WANTED]
    )

    assert same[0].status is Status.REGISTERED
    assert other[0].status is Status.DIFFERS
    assert other[0].differences == {"defaultTaskStartToCloseTimeout": ("30", "60")}
    assert "give the activity a new version" in other[0].describe()


def test_a_deprecated_type_is_planned_as_deprecated() -> None:
    items = plan(FakeSwf({}, deprecated={WANTED.key}), "d", [WANTED])

    assert items[0].status is Status.DEPRECATED


def test_registering_marks_the_new_types_and_a_race_is_compared_not_failed() -> None:
    swf = FakeSwf({})
    done = register_missing(swf, "d", plan(swf, "d", [WANTED]))
    raced = FakeSwf({})
    raced.race = True
    compared = register_missing(raced, "d", plan(raced, "d", [WANTED]))

    assert done[0].created and done[0].describe() == "Resize 1: registered now"
    assert compared[0].status is Status.REGISTERED and not compared[0].created


def test_the_summary_counts_each_outcome_and_says_when_nothing_changed() -> None:
    items = [
        PlanItem(WANTED, Status.MISSING),
        PlanItem(WANTED, Status.REGISTERED),
        PlanItem(WANTED, Status.DIFFERS),
    ]

    assert summary(items, dry_run=True) == (
        "3 types: 1 would be registered, 1 unchanged, 1 differ (dry run: nothing changed)"
    )
    assert summary([], dry_run=False) == "0 types: none"
