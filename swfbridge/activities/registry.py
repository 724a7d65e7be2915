"""The activity registry: ``(name, version)`` → activity class and options."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING

from swfbridge.activities.options import ActivityOptions
from swfbridge.errors import ConfigurationError, DuplicateActivityError

if TYPE_CHECKING:
    from swfbridge.activities.activity import Activity


@dataclass(frozen=True)
class RegisteredActivity:
    """One activity type the fleet can run."""

    options: ActivityOptions
    cls: type[Activity]


class ActivityRegistry:
    """Activity types known to this process, keyed by ``(name, version)``."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], RegisteredActivity] = {}
        self._lock = Lock()

    def add(self, cls: type[Activity], options: ActivityOptions) -> None:
        """Register ``cls`` under ``options.key``.

        Registering the same class again (a module imported twice) is allowed;
        a different class under the same key raises :class:`DuplicateActivityError`.
        """
        with self._lock:
            existing = self._entries.get(options.key)
            if existing is not None and _qualified(existing.cls) != _qualified(cls):
                raise DuplicateActivityError(
                    f"activity {options.name!r} version {options.version!r} is registered "
                    f"twice: by {_qualified(existing.cls)} and by {_qualified(cls)}"
                )
            self._entries[options.key] = RegisteredActivity(options=options, cls=cls)

    def get(self, name: str, version: str) -> RegisteredActivity | None:
        """The registered type, or None if this process does not know it."""
        return self._entries.get((name, version))

    def __iter__(self) -> Iterator[RegisteredActivity]:
        return iter(sorted(self._entries.values(), key=lambda e: e.options.key))

    def __len__(self) -> int:
        return len(self._entries)

    def versions_of(self, name: str) -> list[str]:
        """The versions registered for ``name`` (to explain an unknown version)."""
        return sorted(v for (n, v) in self._entries if n == name)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


default_registry = ActivityRegistry()
"""The process-wide registry that ``@activity`` adds to by default."""


def parse_module_list(text: str | None) -> list[str]:
    """Split a comma-separated module list, dropping blanks."""
    if not text:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def load_modules(modules: Iterable[str]) -> None:
    """Import the operator-named modules that define activities.

    Only modules named by the operator's configuration are imported, never
    names that arrive from SWF or the broker.

    Raises:
        ConfigurationError: A module cannot be imported.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import activity module {module!r}: {exc}") from exc
