"""simpleflow-style activities: plain functions run by their import path.

simpleflow names an activity type after the dotted path of its function
(``myapp.activities.resize``) and its workers import that path when a task
arrives. swfbridge can do the same, opt-in and only under module prefixes
the operator allows: the prefix is checked on the name *before* anything is
imported, only the module part is imported, and only a function (or a
simpleflow ``Activity`` wrapping one) defined in that very module is run.

Like simpleflow's own worker, the version of the type is not checked: the
path names the code. Input and result use simpleflow's wire format, and the
worker sends liveness heartbeats while the function runs (simpleflow's worker
does too, so types registered with a heartbeat timeout keep working).
"""

from __future__ import annotations

import importlib
import inspect
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from swfbridge.activities.activity import Activity
from swfbridge.activities.options import ActivityOptions
from swfbridge.activities.registry import RegisteredActivity
from swfbridge.errors import ConfigurationError, TaskRefused
from swfbridge.wire.outcome import BridgeCause, bridge_failure
from swfbridge.wire.serialization import SIMPLEFLOW, WireFormat

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*")
_PATH = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})+")


class FunctionUnavailable(TaskRefused):
    """The import path cannot be run; ``failure`` says why, for SWF."""


def parse_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    """Validate allowed module prefixes (dotted module names).

    Raises:
        ConfigurationError: A prefix is not a dotted module name.
    """
    result = []
    for prefix in prefixes:
        prefix = prefix.strip()
        if not _DOTTED.fullmatch(prefix):
            raise ConfigurationError(
                f"import-path prefix {prefix!r} is not a dotted module name "
                "(e.g. 'myapp.activities')"
            )
        result.append(prefix)
    return tuple(result)


def is_allowed(module: str, prefixes: Iterable[str]) -> bool:
    """True if ``module`` is one of ``prefixes`` or inside one (whole name parts only)."""
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _after_prefix(name: str, prefixes: Iterable[str]) -> list[str]:
    """The dotted parts of ``name`` below the longest allowed prefix it is inside."""
    matched = max((p for p in prefixes if name.startswith(p + ".")), key=len, default="")
    return name[len(matched) :].lstrip(".").split(".")


class FunctionActivities:
    """Resolves activity types named by import path, within allowed prefixes.

    Args:
        allowed_prefixes: Module prefixes whose functions may run
            (``"myapp.activities"`` allows ``myapp.activities.resize`` and
            ``myapp.activities.images.thumb``, not ``myapp.activities_old.x``).
        wire_format: The input/result format (simpleflow's by default).

    Raises:
        ConfigurationError: A prefix is not a dotted module name.
    """

    def __init__(
        self, allowed_prefixes: Iterable[str], *, wire_format: WireFormat = SIMPLEFLOW
    ) -> None:
        self.allowed_prefixes = parse_prefixes(allowed_prefixes)
        self.wire_format = wire_format
        self._cache: dict[str, type[Activity]] = {}
        self._lock = threading.Lock()

    def resolve(self, name: str, version: str) -> RegisteredActivity | None:
        """The runnable activity for type ``(name, version)``.

        Returns:
            The activity, or None if ``name`` is not a dotted import path at
            all (then it is simply an unknown type).

        Raises:
            FunctionUnavailable: The name is not an allowed import path, or
                the module or function cannot be loaded.
        """
        if not _PATH.fullmatch(name):
            return None
        with self._lock:
            cls = self._cache.get(name)
        if cls is None:
            cls = self._load(name)
            with self._lock:
                self._cache[name] = cls
        options = ActivityOptions(name=name, version=version, heartbeat_s=None, auto_heartbeat=True)
        return RegisteredActivity(options=options, cls=cls)

    def _load(self, name: str) -> type[Activity]:
        label = f"activity type {name!r}"
        module_name, _, attribute = name.rpartition(".")
        if not is_allowed(module_name, self.allowed_prefixes):
            allowed = ", ".join(self.allowed_prefixes) or "none"
            raise FunctionUnavailable(
                bridge_failure(
                    BridgeCause.IMPORT_PATH_NOT_ALLOWED,
                    f"{label} is not registered and its import path is not allowed "
                    f"(allowed prefixes: {allowed}); nothing was imported",
                    allowed_prefixes=list(self.allowed_prefixes),
                )
            )
        if any(part.startswith("_") for part in _after_prefix(name, self.allowed_prefixes)):
            raise FunctionUnavailable(
                bridge_failure(
                    BridgeCause.IMPORT_PATH_NOT_ALLOWED,
                    f"{label}: private and dunder names (leading underscore) below an allowed "
                    "prefix are never imported or run; nothing was imported",
                )
            )
        try:
            module = importlib.import_module(module_name)
        except (Exception, SystemExit) as exc:  # the module's own code may raise anything
            raise FunctionUnavailable(
                bridge_failure(
                    BridgeCause.IMPORT_FAILED,
                    f"{label}: cannot import module {module_name!r}: {type(exc).__name__}: {exc}",
                )
            ) from exc
        target = _unwrap(module.__dict__.get(attribute))
        if target is None or getattr(target, "__module__", None) != module_name:
            raise FunctionUnavailable(
                bridge_failure(
                    BridgeCause.IMPORT_FAILED,
                    f"{label}: {module_name!r} defines no function {attribute!r} (only functions "
                    "defined in that module, or simpleflow activities wrapping them, are run)",
                )
            )
        return _activity_class(name, target, self.wire_format)


def _unwrap(value: Any) -> Callable[..., Any] | None:
    """A plain function, or the function inside a simpleflow ``Activity``."""
    if inspect.isfunction(value):
        return value
    wrapped = getattr(value, "callable", None) if not inspect.ismodule(value) else None
    if inspect.isfunction(wrapped):
        return wrapped
    return None


def _activity_class(name: str, function: Callable[..., Any], fmt: WireFormat) -> type[Activity]:
    class FunctionActivity(Activity):
        wire_format = fmt
        # A static attribute: run's signature is the function's, which the
        # worker checks the input against before calling it.
        run = staticmethod(function)

    FunctionActivity.__qualname__ = FunctionActivity.__name__ = f"FunctionActivity[{name}]"
    return FunctionActivity
