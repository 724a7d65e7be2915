"""Migrating to swfbridge: existing Celery tasks, flowy and simpleflow
activities, each scheduled the way its old deciders schedule it."""

from __future__ import annotations

import json
from typing import Any

from swfbridge.testing import ActivityOutcome, ScheduledActivity, run_activities
from tests.migration.conftest import UserFleet


def _flowy(*args: Any, **kwargs: Any) -> str:
    return json.dumps([list(args), kwargs])


def _simpleflow(*args: Any, **kwargs: Any) -> str:
    return json.dumps({"args": list(args), "kwargs": kwargs})


def _run(fleet: UserFleet, specs: dict[str, tuple[str, str | None]]) -> dict[str, ActivityOutcome]:
    return run_activities(
        fleet.client(),
        domain=fleet.domain,
        task_list=fleet.task_list,
        activities=[
            ScheduledActivity(activity_id, name, "1", input=text)
            for activity_id, (name, text) in specs.items()
        ],
        timeout_s=60,
    )


def _completed(fleet: UserFleet, outcome: ActivityOutcome) -> str:
    assert outcome.status == "completed", (outcome, fleet.logs())
    assert outcome.result is not None
    return outcome.result


def _failed(fleet: UserFleet, outcome: ActivityOutcome) -> tuple[str, dict[str, Any]]:
    assert outcome.status == "failed", (outcome, fleet.logs())
    assert outcome.reason is not None and outcome.details is not None
    return outcome.reason, json.loads(outcome.details)


def test_a_workflow_encoded_the_flowy_way_gets_correct_results_from_all_runtimes(
    user_fleet: UserFleet,
) -> None:
    outcomes = _run(
        user_fleet,
        {
            "legacy-add": ("LegacyAdd", _flowy(1, b=2)),
            "csv-sum": ("CsvSum", "1,2,3"),
            "celery-resize": ("Resize", _flowy(10, 20, scale=2)),
        },
    )

    assert json.loads(_completed(user_fleet, outcomes["legacy-add"])) == 3
    # Both hooks overridden: CSV decoded by the activity, its own text result,
    # and heartbeat() and token work as in flowy.
    assert _completed(user_fleet, outcomes["csv-sum"]) == "sum=6 heartbeat=True token=True"
    assert json.loads(_completed(user_fleet, outcomes["celery-resize"])) == {
        "width": 20,
        "height": 40,
    }


def test_a_workflow_encoded_the_simpleflow_way_gets_correct_results_from_all_runtimes(
    user_fleet: UserFleet,
) -> None:
    outcomes = _run(
        user_fleet,
        {
            "class-add": ("SimpleflowAdd", _simpleflow(1, b=5)),
            "celery-thumb": ("Thumb", _simpleflow("cat.png", size=32)),
            "function": ("tests.migration.sf_allowed.multiply", _simpleflow(6, b=7)),
            "wrapped-function": ("tests.migration.sf_allowed.shout", _simpleflow("hi")),
        },
    )

    assert json.loads(_completed(user_fleet, outcomes["class-add"])) == 6
    assert json.loads(_completed(user_fleet, outcomes["celery-thumb"])) == "cat.png@32px"
    assert json.loads(_completed(user_fleet, outcomes["function"])) == 42
    assert json.loads(_completed(user_fleet, outcomes["wrapped-function"])) == "HI!"


def test_an_existing_celery_task_that_raises_fails_its_activity_with_a_clear_reason(
    user_fleet: UserFleet,
) -> None:
    outcomes = _run(
        user_fleet,
        {
            "explode": ("Explode", _flowy("disk full")),
            "not-json-result": ("Tags", _flowy()),
            "wrong-arguments": ("Resize", _flowy(1, 2, 3, 4)),
            "undecodable-input": ("Resize", "{not json"),
            "unregistered-task": ("Missing", _flowy()),
        },
    )

    reason, details = _failed(user_fleet, outcomes["explode"])
    assert reason == "ValueError: disk full"
    assert details["error_type"] == "ValueError" and details["message"] == "disk full"
    assert "user_tasks.py" in details["traceback"]

    reason, details = _failed(user_fleet, outcomes["not-json-result"])
    assert "result of Celery task 'images.tags' is not JSON-serialisable" in reason
    assert details["cause"] == "result_not_serializable"

    reason, _ = _failed(user_fleet, outcomes["wrong-arguments"])
    assert reason.startswith("TypeError: ") and "positional argument" in reason

    reason, details = _failed(user_fleet, outcomes["undecodable-input"])
    assert "input could not be decoded (flowy format) for Celery task 'images.resize'" in reason

    reason, details = _failed(user_fleet, outcomes["unregistered-task"])
    assert (
        "Celery task 'images.not_registered' (mapped from activity Missing@1) is not "
        "registered" in reason
    )
    assert details["cause"] == "unknown_celery_task"


def test_a_function_runs_by_import_path_only_under_an_allowed_module_prefix(
    user_fleet: UserFleet,
) -> None:
    outcomes = _run(
        user_fleet,
        {
            "forbidden": ("tests.migration.sf_forbidden.touch", _simpleflow()),
            "re-exported": ("tests.migration.sf_allowed.path_join", _simpleflow("a", "b")),
        },
    )

    reason, details = _failed(user_fleet, outcomes["forbidden"])
    assert "import path is not allowed (allowed prefixes: tests.migration.sf_allowed)" in reason
    assert details["cause"] == "import_path_not_allowed"
    assert not (user_fleet.marker_dir / "sf_forbidden-imported").exists()

    reason, _ = _failed(user_fleet, outcomes["re-exported"])
    assert "defines no function 'path_join'" in reason


def test_a_mapped_celery_task_of_the_json_format_gets_one_value_as_its_only_argument(
    user_fleet: UserFleet,
) -> None:
    values: dict[str, tuple[str | None, list[Any]]] = {
        "number": ("42", [42]),
        "object": ('{"k": [1, 2]}', [{"k": [1, 2]}]),
        "string": ('"hello"', ["hello"]),
        "array": ("[1, 2, 3]", [[1, 2, 3]]),
        "two-element-array": ('[["x"], {"k": 2}]', [[["x"], {"k": 2}]]),
        "no-input": (None, []),
    }
    outcomes = _run(
        user_fleet, {kind: ("DescribeJson", text) for kind, (text, _) in values.items()}
    )
    for kind, (_, args) in values.items():
        assert json.loads(_completed(user_fleet, outcomes[kind])) == {"args": args}, kind
