"""A module the bridge must never import: importing it leaves a marker file."""

from __future__ import annotations

import os
from pathlib import Path

_marker_dir = os.environ.get("SWFBRIDGE_TEST_MARKER_DIR")
if _marker_dir:
    Path(_marker_dir, "sf_forbidden-imported").write_text("imported\n")


def touch() -> str:
    return "should never run"
