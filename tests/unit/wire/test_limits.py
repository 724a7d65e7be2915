from __future__ import annotations

from swfbridge.wire.limits import TRUNCATION_MARKER, is_truncated, truncate


def test_text_within_the_limit_is_unchanged() -> None:
    assert truncate("abc", 3) == "abc"


def test_text_over_the_limit_is_cut_to_exactly_the_limit_with_the_marker() -> None:
    out = truncate("x" * 300, 256)
    assert len(out) == 256
    assert out.endswith(TRUNCATION_MARKER)
    assert is_truncated(out)


def test_a_limit_smaller_than_the_marker_still_respects_the_limit() -> None:
    assert len(truncate("x" * 50, 5)) == 5
