from __future__ import annotations

import pytest

from swfbridge.cli._common import UsageError
from swfbridge.cli.run import parse_activities


def test_each_type_takes_the_input_that_follows_it() -> None:
    parsed = parse_activities(["Greet@1.0", '[["Ada"], {}]', "Ping@2", "Charge@1.0", "42"])

    assert parsed == [
        ("Greet", "1.0", '[["Ada"], {}]'),
        ("Ping", "2", None),
        ("Charge", "1.0", "42"),
    ]


def test_a_json_string_with_an_at_sign_is_an_input_not_a_type() -> None:
    assert parse_activities(["Mail@1", '"ada@example.com"']) == [("Mail", "1", '"ada@example.com"')]


def test_an_input_with_no_type_before_it_is_refused() -> None:
    with pytest.raises(UsageError, match="no type before it waits for an input"):
        parse_activities(['[["Ada"], {}]'])


def test_two_inputs_for_one_type_are_refused() -> None:
    with pytest.raises(UsageError, match="is not an activity type"):
        parse_activities(["Greet@1.0", "[[1], {}]", "[[2], {}]"])
