"""Parsing of SWF duration strings (seconds, or "NONE")."""

from __future__ import annotations

import math
from typing import Any


def parse_timeout_s(value: Any) -> float | None:
    """Return the duration in seconds, or None for "NONE"/absent.

    SWF takes whole seconds as strings; the local endpoint also accepts
    fractions ("0.5") so tests can run fast.

    Raises:
        ValueError: if ``value`` is neither "NONE" nor a non-negative number.
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.upper() == "NONE":
        return None
    seconds = float(text)
    if math.isnan(seconds) or seconds < 0 or math.isinf(seconds):
        raise ValueError(f"invalid timeout: {value!r}")
    return seconds


def is_valid_timeout(value: Any) -> bool:
    """True when ``value`` parses with :func:`parse_timeout_s`."""
    try:
        parse_timeout_s(value)
    except (TypeError, ValueError):
        return False
    return True
