"""The task map: activity types served by existing Celery tasks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from swfbridge import FLOWY, JSON, SIMPLEFLOW, CeleryTaskMap, CeleryTaskRoute, ConfigurationError
from swfbridge.activities.task_map import load_task_map


def _write(tmp_path: Path, data: object, name: str = "map.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_a_python_mapping_routes_types_to_task_names_with_the_default_wire_format() -> None:
    task_map = CeleryTaskMap({("Resize", "1"): "images.resize"}, wire_format=SIMPLEFLOW)

    route = task_map.get("Resize", "1")

    assert route is not None
    assert (route.task, route.wire_format, route.queue) == ("images.resize", SIMPLEFLOW, None)
    assert task_map.get("Resize", "2") is None


def test_a_route_of_its_own_wire_format_and_queue_wins_over_the_default() -> None:
    task_map = CeleryTaskMap(
        {("Thumb", "1"): CeleryTaskRoute("images.thumb", wire_format=FLOWY, queue="img")},
        wire_format=SIMPLEFLOW,
    )

    route = task_map.get("Thumb", "1")

    assert route is not None and route.wire_format is FLOWY and route.queue == "img"


def test_a_json_file_gives_the_same_routes_as_the_python_mapping(tmp_path: Path) -> None:
    source = _write(
        tmp_path,
        {
            "tasks": [
                {"name": "Resize", "version": "1", "task": "images.resize"},
                {
                    "name": "Thumb",
                    "version": "1",
                    "task": "images.thumb",
                    "wire_format": "simpleflow",
                    "queue": "img",
                },
            ]
        },
    )

    task_map = load_task_map(source)

    assert list(task_map) == [("Resize", "1"), ("Thumb", "1")]
    thumb = task_map.get("Thumb", "1")
    assert thumb is not None and thumb.wire_format is SIMPLEFLOW and thumb.queue == "img"
    resize = task_map.get("Resize", "1")
    assert resize is not None and resize.wire_format is FLOWY


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_a_toml_file_is_read_too(tmp_path: Path) -> None:
    source = _write(
        tmp_path,
        '[[tasks]]\nname = "Resize"\nversion = "1"\ntask = "images.resize"\n',
        name="map.toml",
    )

    task_map = load_task_map(source, wire_format=SIMPLEFLOW)

    route = task_map.get("Resize", "1")
    assert route is not None and route.wire_format is SIMPLEFLOW


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "is not valid JSON"),
        ({"routes": []}, '"tasks": [...]'),
        ({"tasks": [["Resize", "1"]]}, "tasks[0]: expected an object"),
        ({"tasks": [{"name": "Resize", "version": "1"}]}, "tasks[0]: 'task' must be"),
        (
            {"tasks": [{"name": "R", "version": "1", "task": "t", "wireformat": "flowy"}]},
            "unknown keys ['wireformat']",
        ),
        (
            {"tasks": [{"name": "R", "version": "1", "task": "t", "wire_format": "xml"}]},
            "unknown wire format 'xml'",
        ),
        (
            {
                "tasks": [
                    {"name": "R", "version": "1", "task": "a"},
                    {"name": "R", "version": "1", "task": "b"},
                ]
            },
            "mapped twice",
        ),
    ],
)
def test_a_broken_task_map_file_is_refused_with_the_entry_and_the_cause(
    tmp_path: Path, data: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=None) as raised:
        load_task_map(_write(tmp_path, data))
    assert message in str(raised.value)


def test_a_missing_file_and_an_unknown_source_form_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read task map"):
        load_task_map(str(tmp_path / "absent.json"))
    with pytest.raises(ConfigurationError, match="module:attribute"):
        load_task_map("tasks.yaml")


def test_a_module_attribute_names_a_mapping_in_an_operator_module() -> None:
    task_map = load_task_map(
        "tests.unit.activities.test_task_map:EXAMPLE_MAP", wire_format=SIMPLEFLOW
    )

    route = task_map.get("Resize", "1")
    assert route is not None and route.task == "images.resize"
    assert route.wire_format is SIMPLEFLOW


def test_keys_that_are_not_name_version_pairs_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="pairs"):
        CeleryTaskMap({"Resize": "images.resize"})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="non-empty"):
        CeleryTaskMap({("Resize", "1"): ""})


EXAMPLE_MAP = {("Resize", "1"): "images.resize"}


def test_a_route_and_the_map_default_may_name_the_json_format(tmp_path: Path) -> None:
    source = _write(
        tmp_path,
        {
            "tasks": [
                {
                    "name": "Describe",
                    "version": "1",
                    "task": "images.describe",
                    "wire_format": "json",
                },
                {"name": "Resize", "version": "1", "task": "images.resize"},
            ]
        },
    )

    task_map = load_task_map(source, wire_format=JSON)
    described = task_map.get("Describe", "1")
    resized = task_map.get("Resize", "1")

    assert described is not None and described.wire_format is JSON
    assert resized is not None and resized.wire_format is JSON
