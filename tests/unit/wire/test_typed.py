"""Typed values: JSON to annotated types and back (swfbridge.wire.typed)."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NewType, Optional

import pydantic
import pytest

from swfbridge.wire.typed import (
    AnnotationError,
    ArgumentConversionError,
    ConversionError,
    convert_arguments,
    from_json,
    to_json,
)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Point:
    x: int
    y: int = 0


@dataclass
class Shape:
    name: str
    points: list[Point]
    colour: Colour = Colour.RED
    tags: set[str] = field(default_factory=set)


class Model(pydantic.BaseModel):
    when: datetime.date
    amount: decimal.Decimal


UserId = NewType("UserId", int)


@pytest.mark.parametrize(
    ("value", "tp", "expected"),
    [
        (1, int, 1),
        (1, float, 1.0),
        ("x", str, "x"),
        (True, bool, True),
        (None, Optional[int], None),  # noqa: UP045 (the spelling under test)
        (3, int | None, 3),
        ([1, 2], list[int], [1, 2]),
        ([1, "a"], tuple[int, str], (1, "a")),
        ([1, 2, 3], tuple[int, ...], (1, 2, 3)),
        (["a", "a"], frozenset[str], frozenset({"a"})),
        ({"1": "red"}, dict[int, Colour], {1: Colour.RED}),
        ("blue", Colour, Colour.BLUE),
        ("b", Literal["a", "b"], "b"),
        (5, Annotated[int, "meta"], 5),
        (7, UserId, 7),
        ({"anything": [1]}, Any, {"anything": [1]}),
        (
            "2026-01-02T03:04:05+00:00",
            datetime.datetime,
            datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        ),
        (
            "12345678-1234-5678-1234-567812345678",
            uuid.UUID,
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        ("1.10", decimal.Decimal, decimal.Decimal("1.10")),
        ({"x": 1}, Point, Point(1, 0)),
        (
            {"name": "tri", "points": [{"x": 1, "y": 2}], "colour": "blue", "tags": ["a"]},
            Shape,
            Shape("tri", [Point(1, 2)], Colour.BLUE, {"a"}),
        ),
        (
            {"when": "2026-12-03", "amount": "9.99"},
            Model,
            Model(when=datetime.date(2026, 12, 3), amount=decimal.Decimal("9.99")),
        ),
    ],
)
def test_json_values_convert_to_their_annotations(value: Any, tp: Any, expected: Any) -> None:
    assert from_json(value, tp) == expected


@pytest.mark.parametrize(
    ("value", "tp", "message"),
    [
        ("1", int, "expected an integer, got a string"),
        (True, int, "expected an integer, got a boolean"),
        (1.5, int, "expected an integer, got a number"),
        ({"x": "1"}, Point, "x: expected an integer, got a string"),
        ({"name": "s", "points": [{"x": 1}, {"y": 2}]}, Shape, "points[1]: missing field 'x'"),
        ({"x": 1, "z": 2}, Point, "unknown field(s) 'z' for Point"),
        ("green", Colour, "'green' is not a Colour"),
        ("c", Literal["a", "b"], "expected one of ['a', 'b']"),
        ("yesterday", datetime.date, "'yesterday' is not a valid date"),
        ("NaN", decimal.Decimal, "not a finite number"),
        ([1], dict[str, int], "expected an object, got an array"),
        ({"k": "v"}, dict[str, int], "['k']: expected an integer"),
        ("x", int | None, "matches no member of the union"),
        (
            {"when": "nope", "amount": "1"},
            Model,
            "invalid Model: when: Input should be a valid date",
        ),
        ("os.system", type[Point], "a type cannot come from the wire"),
        (1, object.__new__, "unsupported annotation"),
    ],
)
def test_values_that_do_not_fit_say_where_and_why(value: Any, tp: Any, message: str) -> None:
    with pytest.raises(ConversionError) as caught:
        from_json(value, tp)

    assert message in str(caught.value)


class Runner:
    def run(self, shape: Shape, scale: float = 1.0, *extra: Point, **named: Colour) -> None: ...

    def untyped(self, a, b=2):  # type: ignore[no-untyped-def]
        ...

    def unresolvable(self, a: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821


def test_arguments_convert_by_parameter_including_star_args_and_star_kwargs() -> None:
    args, kwargs = convert_arguments(
        Runner().run, [{"name": "s", "points": []}, 2, {"x": 1}], {"c": "blue"}
    )

    assert args == [Shape("s", []), 2.0, Point(1)]
    assert kwargs == {"c": Colour.BLUE}


def test_unannotated_parameters_pass_through_unchanged() -> None:
    assert convert_arguments(Runner().untyped, [{"a": 1}], {}) == ([{"a": 1}], {})


def test_a_bad_argument_names_its_parameter_and_the_place_inside_it() -> None:
    with pytest.raises(ArgumentConversionError) as caught:
        convert_arguments(Runner().run, [{"name": "s", "points": [{"x": "1"}]}], {})

    assert caught.value.parameter == "shape"
    assert str(caught.value) == (
        "parameter 'shape': points[0].x: expected an integer, got a string"
    )


def test_unresolvable_annotations_are_an_annotation_error() -> None:
    with pytest.raises(AnnotationError, match="NotDefinedAnywhere"):
        convert_arguments(Runner().unresolvable, [1], {})


def test_results_become_json_native_values() -> None:
    shape = Shape("s", [Point(1, 2)], Colour.BLUE, {"a"})
    model = Model(when=datetime.date(2026, 1, 2), amount=decimal.Decimal("1.5"))

    assert to_json({"shape": shape, "model": model, Colour.RED: (1, uuid.UUID(int=1))}) == {
        "shape": {"name": "s", "points": [{"x": 1, "y": 2}], "colour": "blue", "tags": ["a"]},
        "model": {"when": "2026-01-02", "amount": "1.5"},
        "red": [1, "00000000-0000-0000-0000-000000000001"],
    }


def test_a_result_converted_back_converts_to_the_same_value() -> None:
    shape = Shape("s", [Point(1, 2)], Colour.BLUE, {"a", "b"})

    assert from_json(to_json(shape), Shape) == shape
