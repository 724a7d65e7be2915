"""Wire formats: how activity input is decoded and results are encoded.

Three formats exist in the SWF workflows swfbridge serves:

* ``flowy`` (the default): input is the JSON text of ``[args, kwargs]``;
* ``simpleflow``: input is the JSON text of ``{"args": [...], "kwargs": {...}}``;
* ``json``: input is the JSON text of one value, passed as the single
  positional argument (plain boto3 deciders, DAG services, Node.js libraries).

All encode results as JSON. Missing or empty input means "no arguments".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from swfbridge.errors import ConfigurationError, SwfBridgeError

Arguments = tuple[list[Any], dict[str, Any]]


class InputDecodeError(SwfBridgeError, ValueError):
    """The task input is not valid for the activity's wire format."""


class ResultEncodeError(SwfBridgeError, ValueError):
    """The activity's return value cannot be encoded."""


class WireFormat(Protocol):
    """How one family of deciders encodes activity input and reads results."""

    @property
    def name(self) -> str:
        """The format's name, as used in configuration."""
        ...

    def decode_input(self, text: str | None) -> Arguments:
        """Turn SWF input text into positional and keyword arguments."""
        ...

    def encode_input(self, args: list[Any], kwargs: dict[str, Any]) -> str:
        """Encode arguments the way this family's deciders schedule them."""
        ...

    def encode_result(self, value: Any) -> str:
        """Encode a return value the way this family's deciders read it."""
        ...


def dumps(value: Any) -> str:
    """Strict, compact JSON: no NaN/Infinity, which other languages' parsers reject."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ResultEncodeError(f"{type(exc).__name__}: {exc}") from exc


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputDecodeError(f"input is not valid JSON: {exc}") from exc


def _check_arguments(args: Any, kwargs: Any) -> Arguments:
    if not isinstance(args, list):
        raise InputDecodeError(f"positional arguments must be a JSON array, got {json_kind(args)}")
    if not isinstance(kwargs, dict):
        raise InputDecodeError(f"keyword arguments must be a JSON object, got {json_kind(kwargs)}")
    return args, kwargs


def _reject_constant(name: str) -> Any:
    raise InputDecodeError(f"input is not valid JSON: {name} is not a JSON value")


def _loads_strict(text: str) -> Any:
    """Like :func:`_loads`, refusing NaN and Infinity (not JSON, refused by other parsers)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except InputDecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise InputDecodeError(f"input is not valid JSON: {exc}") from exc


def json_kind(value: Any) -> str:
    """How an error message names a decoded JSON value's kind ("an object", ...)."""
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class FlowyFormat:
    """flowy's format: input ``[args, kwargs]``, result ``json.dumps(value)``."""

    name: str = "flowy"

    def decode_input(self, text: str | None) -> Arguments:
        if not text:
            return [], {}
        data = _loads(text)
        if not isinstance(data, list) or len(data) != 2:
            raise InputDecodeError(
                f"flowy input must be a JSON array [args, kwargs], got {json_kind(data)}"
                + (f" of length {len(data)}" if isinstance(data, list) else "")
            )
        return _check_arguments(data[0], data[1])

    def encode_input(self, args: list[Any], kwargs: dict[str, Any]) -> str:
        return dumps([list(args), dict(kwargs)])

    def encode_result(self, value: Any) -> str:
        return dumps(value)


@dataclass(frozen=True)
class SimpleflowFormat:
    """simpleflow's format: input ``{"args": [...], "kwargs": {...}}``, result JSON."""

    name: str = "simpleflow"

    def decode_input(self, text: str | None) -> Arguments:
        if not text:
            return [], {}
        data = _loads(text)
        if not isinstance(data, dict):
            raise InputDecodeError(
                'simpleflow input must be a JSON object {"args", "kwargs"}, got ' + json_kind(data)
            )
        unknown = set(data) - {"args", "kwargs"}
        if unknown:
            raise InputDecodeError(f"simpleflow input has unknown keys: {sorted(unknown)}")
        return _check_arguments(data.get("args", []), data.get("kwargs", {}))

    def encode_input(self, args: list[Any], kwargs: dict[str, Any]) -> str:
        return dumps({"args": list(args), "kwargs": dict(kwargs)})

    def encode_result(self, value: Any) -> str:
        return dumps(value)


@dataclass(frozen=True)
class JsonFormat:
    """One JSON value: input is the JSON text of any value, result JSON.

    The value is passed to ``run`` as its single positional argument, so a
    decider's ``[["x"], {"k": 2}]`` arrives as that one list (flowy would read
    it as args and kwargs). Missing or empty input calls ``run()``.
    """

    name: str = "json"

    def decode_input(self, text: str | None) -> Arguments:
        if not text:
            return [], {}
        return [_loads_strict(text)], {}

    def encode_input(self, args: list[Any], kwargs: dict[str, Any]) -> str:
        if kwargs:
            raise ValueError("the json wire format carries no keyword arguments")
        if not args:
            return ""
        if len(args) != 1:
            raise ValueError(
                f"the json wire format carries one value, got {len(args)} positional arguments"
            )
        return dumps(args[0])

    def encode_result(self, value: Any) -> str:
        return dumps(value)


FLOWY = FlowyFormat()
SIMPLEFLOW = SimpleflowFormat()
JSON = JsonFormat()

WIRE_FORMATS: dict[str, WireFormat] = {
    FLOWY.name: FLOWY,
    SIMPLEFLOW.name: SIMPLEFLOW,
    JSON.name: JSON,
}


def wire_format(name: str) -> WireFormat:
    """Look up a wire format by name (``"flowy"``, ``"simpleflow"`` or ``"json"``)."""
    try:
        return WIRE_FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(WIRE_FORMATS))
        raise ConfigurationError(f"unknown wire format {name!r} (known: {known})") from None
