"""The layout says which process runs what: the poller and the worker share
only the wire, AWS, state and activity definitions, never each other's code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "swfbridge"


def _imports(package: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted((PACKAGE / package).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add((path.name, node.module))
            elif isinstance(node, ast.Import):
                found.update((path.name, alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize(("package", "other"), [("poller", "worker"), ("worker", "poller")])
def test_one_process_side_never_imports_the_other(package: str, other: str) -> None:
    crossing = sorted(
        (name, module)
        for name, module in _imports(package)
        if module.startswith(f"swfbridge.{other}")
    )

    assert crossing == []
