"""The one check for a number of seconds in configuration."""

from __future__ import annotations

import math

import pytest

from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError


@pytest.mark.parametrize("value", [True, "1", math.nan, math.inf, -0.5, None])
def test_check_seconds_refuses_what_is_not_a_finite_non_negative_number(value: object) -> None:
    with pytest.raises(ConfigurationError, match="grace_s must be a non-negative number"):
        check_seconds("grace_s", value)


def test_check_seconds_refuses_zero_where_a_positive_number_is_needed() -> None:
    with pytest.raises(ConfigurationError, match="must be a positive number of seconds, got 0"):
        check_seconds("interval_s", 0, allow_zero=False)


def test_check_seconds_takes_none_only_where_optional() -> None:
    check_seconds("timeout_s", None, optional=True)
    check_seconds("timeout_s", 0)
    check_seconds("timeout_s", 2.5, allow_zero=False)
