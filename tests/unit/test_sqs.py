"""SQS's rules as the bridge applies them: queue names, visibility warnings."""

from __future__ import annotations

import pytest

from swfbridge.sqs import (
    DEFAULT_VISIBILITY_TIMEOUT_S,
    is_sqs,
    queue_name_problem,
    sqs_queue_name,
    sqs_warnings,
    visibility_timeout_s,
)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("sqs://", True),
        ("SQS://@localhost:4566", True),
        ("sqs://key:secret@", True),
        ("redis://127.0.0.1:6379/0", False),
        ("amqp://guest@localhost//", False),
        ("", False),
        (None, False),
    ],
)
def test_is_sqs_knows_kombus_sqs_scheme(url: object, expected: bool) -> None:
    assert is_sqs(url) is expected


@pytest.mark.parametrize(
    "queue", ["swfbridge.orders", "a.b-c_d", "tasks@eu:1", "x/y+z", "plain", "with space"]
)
def test_queue_names_are_mapped_exactly_as_kombus_sqs_channel_maps_them(queue: str) -> None:
    from kombu.transport.SQS import CHARS_REPLACE_TABLE

    assert sqs_queue_name(queue) == queue.translate(CHARS_REPLACE_TABLE)
    assert sqs_queue_name(queue, prefix="prod.") == ("prod." + queue).translate(CHARS_REPLACE_TABLE)


def test_a_dotted_queue_name_becomes_a_dashed_sqs_name() -> None:
    assert sqs_queue_name("swfbridge.orders") == "swfbridge-orders"
    assert queue_name_problem("swfbridge.orders") is None


@pytest.mark.parametrize(
    "queue, prefix, why",
    [
        ("q" * 81, "", "at most 80"),
        ("q" * 75, "prod-1", "at most 80"),
        ("commandes-été", "", "'commandes-été'"),
        ("with space", "", "'with space'"),
        ("orders.fifo", "", "FIFO"),
    ],
)
def test_a_queue_sqs_would_refuse_is_named_with_the_reason(
    queue: str, prefix: str, why: str
) -> None:
    problem = queue_name_problem(queue, prefix=prefix)

    assert problem is not None and why in problem


def test_eighty_characters_is_still_a_valid_queue_name() -> None:
    assert queue_name_problem("q" * 80) is None


def test_the_visibility_timeout_is_kombus_default_unless_set() -> None:
    assert visibility_timeout_s({"broker_url": "sqs://"}) == DEFAULT_VISIBILITY_TIMEOUT_S == 1800
    options = {"broker_transport_options": {"visibility_timeout": 7200}}
    assert visibility_timeout_s(options) == 7200


def test_no_sqs_warning_for_another_broker() -> None:
    conf = {"broker_url": "redis://127.0.0.1:6379/0"}

    assert sqs_warnings(conf, longest_start_to_close_s=99_999, has_unbounded_activity=True) == []


def test_no_sqs_warning_when_every_activity_ends_within_the_visibility_timeout() -> None:
    assert sqs_warnings({"broker_url": "sqs://"}, longest_start_to_close_s=1800) == []


def test_an_activity_longer_than_the_visibility_timeout_is_warned_about() -> None:
    (warning,) = sqs_warnings({"broker_url": "sqs://"}, longest_start_to_close_s=3600)

    assert "3600s" in warning and "(1800s)" in warning and "claim drops the copy" in warning


def test_an_activity_without_start_to_close_is_warned_about() -> None:
    conf = {"broker_url": "sqs://", "broker_transport_options": {"visibility_timeout": 43200}}

    (warning,) = sqs_warnings(conf, longest_start_to_close_s=60, has_unbounded_activity=True)

    assert "unbounded" in warning and "(43200s)" in warning
