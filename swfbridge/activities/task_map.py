"""Which SWF activity types run as existing Celery tasks: the task map.

A :class:`CeleryTaskMap` maps an activity type ``(name, version)`` to the name
of a Celery task that already exists on the fleet (``"images.resize"``), with
the wire format its input is encoded in. The poller reads it (``swfbridge poll
--task-map FILE``) and publishes mapped types under the Celery task's own name;
see :mod:`swfbridge.worker.relays` for how results travel back.

The file form is JSON (or TOML on Python 3.11+, by the ``.toml`` suffix)::

    {"tasks": [
        {"name": "Resize", "version": "1", "task": "images.resize"},
        {"name": "Thumb", "version": "2", "task": "images.thumb",
         "wire_format": "simpleflow", "queue": "images"}
    ]}
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swfbridge.errors import ConfigurationError
from swfbridge.wire.serialization import FLOWY, WireFormat, wire_format

_ENTRY_KEYS = frozenset({"name", "version", "task", "wire_format", "queue"})


@dataclass(frozen=True)
class CeleryTaskRoute:
    """Where one mapped activity type goes.

    Args:
        task: The Celery task name registered on the workers (``"images.resize"``).
        wire_format: How the SWF input is decoded into the task's args and
            kwargs (``json``: the one value is the task's only argument), and
            how its return value is encoded; None uses the map's default.
        queue: Celery queue for the job and its result relay; None uses the
            poller's ``--queue`` (or the app's default queue).
    """

    task: str
    wire_format: WireFormat | None = None
    queue: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.task, str) or not self.task.strip():
            raise ConfigurationError(
                f"a Celery task name must be a non-empty string, got {self.task!r}"
            )
        if self.queue is not None and (not isinstance(self.queue, str) or not self.queue):
            raise ConfigurationError(f"queue must be a non-empty string, got {self.queue!r}")


@dataclass(frozen=True)
class ResolvedRoute:
    """A route with its defaults applied (what the dispatcher uses)."""

    task: str
    wire_format: WireFormat
    queue: str | None


class CeleryTaskMap:
    """Activity types ``(name, version)`` served by existing Celery tasks.

    Args:
        routes: ``{(name, version): "celery.task.name" or CeleryTaskRoute}``.
        wire_format: Default wire format of routes that do not name one.

    Raises:
        ConfigurationError: A key or route is invalid.

    Example::

        CeleryTaskMap({("Resize", "1"): "images.resize"}, wire_format=SIMPLEFLOW)
    """

    def __init__(
        self,
        routes: Mapping[tuple[str, str], str | CeleryTaskRoute] | None = None,
        *,
        wire_format: WireFormat = FLOWY,
    ) -> None:
        self.wire_format = wire_format
        self._routes: dict[tuple[str, str], CeleryTaskRoute] = {}
        for key, route in (routes or {}).items():
            if (
                not isinstance(key, tuple)
                or len(key) != 2
                or not all(isinstance(part, str) and part for part in key)
            ):
                raise ConfigurationError(
                    f"task map keys are (name, version) pairs of non-empty strings, got {key!r}"
                )
            self._routes[key] = (
                route if isinstance(route, CeleryTaskRoute) else CeleryTaskRoute(task=route)
            )

    def get(self, name: str, version: str) -> ResolvedRoute | None:
        """The route of activity type ``(name, version)``, or None if it is not mapped."""
        route = self._routes.get((name, version))
        if route is None:
            return None
        return ResolvedRoute(
            task=route.task, wire_format=route.wire_format or self.wire_format, queue=route.queue
        )

    def with_wire_format(self, default: WireFormat) -> CeleryTaskMap:
        """A copy whose routes without a wire format of their own use ``default``."""
        return CeleryTaskMap(self._routes, wire_format=default)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(sorted(self._routes))

    def __len__(self) -> int:
        return len(self._routes)

    def __contains__(self, key: object) -> bool:
        return key in self._routes


def load_task_map(source: str, *, wire_format: WireFormat = FLOWY) -> CeleryTaskMap:
    """Load a task map named by the operator.

    Args:
        source: A ``.json`` file, a ``.toml`` file (Python 3.11+), or
            ``module:attribute`` naming a :class:`CeleryTaskMap` or a mapping
            in an operator-chosen module.
        wire_format: Default wire format of routes that do not name one.

    Returns:
        The map.

    Raises:
        ConfigurationError: The file or object is missing or invalid (the
            message says which entry and why).
    """
    if source.endswith((".json", ".toml")):
        return _from_file(Path(source), wire_format)
    if ":" in source:
        return _from_object(source, wire_format)
    raise ConfigurationError(
        f"task map {source!r}: expected a .json or .toml file, or module:attribute"
    )


def _from_object(source: str, default: WireFormat) -> CeleryTaskMap:
    module_name, _, attribute = source.partition(":")
    try:
        value = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"task map {source!r}: {exc}") from exc
    if isinstance(value, CeleryTaskMap):
        return value if value.wire_format is default else value.with_wire_format(default)
    if isinstance(value, Mapping):
        return CeleryTaskMap(value, wire_format=default)
    raise ConfigurationError(
        f"task map {source!r} is a {type(value).__name__}, not a CeleryTaskMap or a mapping"
    )


def _from_file(path: Path, default: WireFormat) -> CeleryTaskMap:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read task map {path}: {exc.strerror}") from exc
    data = _parse(path, text)
    where = f"task map {path}"
    if not isinstance(data, dict) or set(data) != {"tasks"} or not isinstance(data["tasks"], list):
        raise ConfigurationError(f'{where}: expected {{"tasks": [...]}} at the top level')
    routes: dict[tuple[str, str], CeleryTaskRoute] = {}
    for index, entry in enumerate(data["tasks"]):
        key, route = _entry(entry, f"{where}, tasks[{index}]")
        if key in routes:
            raise ConfigurationError(
                f"{where}, tasks[{index}]: {key[0]!r} version {key[1]!r} is mapped twice"
            )
        routes[key] = route
    return CeleryTaskMap(routes, wire_format=default)


def _parse(path: Path, text: str) -> Any:
    if path.suffix == ".toml":
        if sys.version_info < (3, 11):
            raise ConfigurationError(f"task map {path}: TOML needs Python 3.11+; use JSON")
        tomllib: Any = importlib.import_module("tomllib")
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"task map {path} is not valid TOML: {exc}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"task map {path} is not valid JSON: {exc}") from exc


def _entry(entry: Any, where: str) -> tuple[tuple[str, str], CeleryTaskRoute]:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: expected an object, got {type(entry).__name__}")
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_ENTRY_KEYS)})"
        )
    for required in ("name", "version", "task"):
        value = entry.get(required)
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"{where}: {required!r} must be a non-empty string")
    fmt = entry.get("wire_format")
    try:
        route = CeleryTaskRoute(
            task=entry["task"],
            wire_format=None if fmt is None else wire_format(str(fmt)),
            queue=entry.get("queue"),
        )
    except (ConfigurationError, ValueError) as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc
    return (entry["name"], entry["version"]), route
