"""SWF's size limits, and truncation that keeps values within them visibly."""

from __future__ import annotations

from typing import Final

MAX_INPUT: Final = 32_768
MAX_RESULT: Final = 32_768
MAX_DETAILS: Final = 32_768
MAX_REASON: Final = 256
MAX_HEARTBEAT_DETAILS: Final = 2_048
MAX_IDENTITY: Final = 256

TRUNCATION_MARKER: Final = "…[TRUNCATED]"


def truncate(text: str, limit: int, *, marker: str = TRUNCATION_MARKER) -> str:
    """Return ``text`` if it fits in ``limit`` characters, else its head and ``marker``.

    The result is never longer than ``limit``, so SWF never rejects it for size.
    """
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return marker[:limit]
    return text[: limit - len(marker)] + marker


def is_truncated(text: str, *, marker: str = TRUNCATION_MARKER) -> bool:
    """True when ``text`` ends with the truncation marker."""
    return text.endswith(marker)
