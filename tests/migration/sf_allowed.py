"""simpleflow-style activities: plain functions named by their import path."""

from __future__ import annotations

from collections.abc import Callable
from os.path import join as path_join  # noqa: F401 - re-exported: must not be runnable
from typing import Any


def multiply(a: int, b: int = 2) -> int:
    return a * b


class _SimpleflowActivity:
    """What simpleflow's ``@activity.with_attributes`` leaves in a module."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.callable = function
        self.name = f"{function.__module__}.{function.__name__}"


def _shout(text: str) -> str:
    return text.upper() + "!"


_shout.__name__ = "shout"
shout = _SimpleflowActivity(_shout)
