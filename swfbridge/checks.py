"""The one check for a number of seconds in configuration, and its predicates.

Every config object validates its durations here, so they all accept and
refuse the same values (a real, finite number; not a bool) and say so in
the same words.
"""

from __future__ import annotations

import math
from typing import Any

from swfbridge.errors import ConfigurationError


def is_finite_number(value: Any) -> bool:
    """True for an ``int`` or ``float`` that is finite (a bool is not a number here)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def is_seconds(value: Any, *, allow_zero: bool = True) -> bool:
    """True for a finite number of seconds, non-negative (or positive without ``allow_zero``)."""
    return is_finite_number(value) and (value >= 0 if allow_zero else value > 0)


def check_seconds(
    name: str, value: Any, *, allow_zero: bool = True, optional: bool = False
) -> None:
    """Refuse a setting that is not a number of seconds.

    Args:
        name: The setting, as the message names it.
        value: Its value.
        allow_zero: Whether 0 is allowed (non-negative) or not (positive).
        optional: Whether None (no limit) is allowed.

    Raises:
        ConfigurationError: ``value`` is not a finite number of seconds in range.
    """
    if optional and value is None:
        return
    if not is_seconds(value, allow_zero=allow_zero):
        what = "a non-negative" if allow_zero else "a positive"
        none = " or None" if optional else ""
        raise ConfigurationError(f"{name} must be {what} number of seconds{none}, got {value!r}")
