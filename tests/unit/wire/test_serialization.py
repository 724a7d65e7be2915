from __future__ import annotations

import math

import pytest

from swfbridge.wire.serialization import (
    FLOWY,
    JSON,
    SIMPLEFLOW,
    InputDecodeError,
    ResultEncodeError,
    wire_format,
)


def test_flowy_input_decodes_args_and_kwargs() -> None:
    assert FLOWY.decode_input('[[1, "a"], {"k": true}]') == ([1, "a"], {"k": True})


def test_flowy_and_simpleflow_treat_missing_input_as_no_arguments() -> None:
    for fmt in (FLOWY, SIMPLEFLOW):
        assert fmt.decode_input(None) == ([], {})
        assert fmt.decode_input("") == ([], {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1}', "must be a JSON array [args, kwargs], got an object"),
        ("[[1]]", "of length 1"),
        ('[{"a": 1}, {}]', "positional arguments must be a JSON array"),
        ("[[], []]", "keyword arguments must be a JSON object"),
    ],
)
def test_flowy_input_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InputDecodeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        FLOWY.decode_input(text)


def test_simpleflow_input_decodes_args_and_kwargs_with_either_missing() -> None:
    assert SIMPLEFLOW.decode_input('{"args": [1], "kwargs": {"b": 2}}') == ([1], {"b": 2})
    assert SIMPLEFLOW.decode_input('{"kwargs": {"b": 2}}') == ([], {"b": 2})
    assert SIMPLEFLOW.decode_input('{"args": [3]}') == ([3], {})


def test_simpleflow_input_rejects_unknown_keys_and_arrays() -> None:
    with pytest.raises(InputDecodeError, match="unknown keys"):
        SIMPLEFLOW.decode_input('{"args": [], "extra": 1}')
    with pytest.raises(InputDecodeError, match="must be a JSON object"):
        SIMPLEFLOW.decode_input("[[], {}]")


def test_encoding_input_round_trips_through_decoding() -> None:
    for fmt in (FLOWY, SIMPLEFLOW):
        assert fmt.decode_input(fmt.encode_input([1, [2]], {"x": None})) == ([1, [2]], {"x": None})


def test_results_that_json_cannot_represent_raise_a_clear_error() -> None:
    with pytest.raises(ResultEncodeError, match="TypeError"):
        FLOWY.encode_result({1, 2})
    with pytest.raises(ResultEncodeError, match="Out of range float"):
        FLOWY.encode_result(math.nan)


def test_wire_formats_are_found_by_name_and_unknown_names_are_refused() -> None:
    assert wire_format("simpleflow") is SIMPLEFLOW
    with pytest.raises(ValueError, match="unknown wire format 'xml'"):
        wire_format("xml")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("2.5", 2.5),
        ('{"k": [1, 2]}', {"k": [1, 2]}),
        ('"hello"', "hello"),
        ("[1, 2, 3]", [1, 2, 3]),
        ('[["x"], {"k": 2}]', [["x"], {"k": 2}]),
        ("null", None),
        ("false", False),
    ],
)
def test_json_input_is_one_value_passed_as_the_single_argument(text: str, value: object) -> None:
    assert JSON.decode_input(text) == ([value], {})


def test_json_format_reads_a_two_element_array_as_one_value_where_flowy_reads_args_kwargs() -> None:
    text = '[["x"], {"k": 2}]'
    assert FLOWY.decode_input(text) == (["x"], {"k": 2})
    assert JSON.decode_input(text) == ([[["x"], {"k": 2}]], {})


def test_json_format_treats_missing_input_as_no_arguments() -> None:
    assert JSON.decode_input(None) == ([], {})
    assert JSON.decode_input("") == ([], {})


@pytest.mark.parametrize("text", ["{not json", "NaN", "[1, Infinity]", "-Infinity", "1 2"])
def test_json_format_refuses_text_that_is_not_strict_json(text: str) -> None:
    with pytest.raises(InputDecodeError, match="not valid JSON"):
        JSON.decode_input(text)


def test_json_format_encodes_one_value_or_no_input_and_refuses_more() -> None:
    assert JSON.encode_input([{"a": 1}], {}) == '{"a":1}'
    assert JSON.encode_input([], {}) == ""
    assert JSON.decode_input(JSON.encode_input([[1, {}]], {})) == ([[1, {}]], {})
    with pytest.raises(ValueError, match="one value, got 2"):
        JSON.encode_input([1, 2], {})
    with pytest.raises(ValueError, match="no keyword arguments"):
        JSON.encode_input([], {"k": 1})


def test_json_format_encodes_results_as_strict_json() -> None:
    assert JSON.encode_result([1, "a", None]) == '[1,"a",null]'
    with pytest.raises(ResultEncodeError, match="Out of range float"):
        JSON.encode_result(math.inf)


def test_json_format_is_found_by_name() -> None:
    assert wire_format("json") is JSON
