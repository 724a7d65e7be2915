"""Typed activity values: JSON in, annotated Python values out, and back.

An activity class with ``typed = True`` has its decoded arguments converted
to the types annotated on ``run`` before the call, and its result converted
back to JSON-native values after it. The wire never changes (it is the same
JSON, in whatever wire format), and nothing on the wire chooses a type: the
annotation is the only source, so no module or class named by a decider is
ever imported.

Supported annotations: ``Any`` (no conversion), ``None``, ``bool``, ``int``,
``float``, ``str``, ``list[X]``, ``tuple[X, ...]``, ``tuple[X, Y]``,
``set[X]``, ``frozenset[X]``, ``dict[K, V]`` (``K`` one of ``str``, ``int``,
an ``Enum``), ``Sequence``/``Mapping`` equivalents, ``X | Y`` /
``Optional[X]``, ``Literal[...]``, ``Annotated[X, ...]``, ``NewType``,
``Enum`` subclasses, dataclasses, ``TypedDict`` (checked as a dict),
``datetime``/``date``/``time`` (ISO 8601 strings), ``UUID`` and ``Decimal``;
Pydantic models when Pydantic (v2) is installed.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import decimal
import enum
import inspect
import threading
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any

from swfbridge.errors import SwfBridgeError
from swfbridge.wire.serialization import json_kind

Arguments = tuple[list[Any], dict[str, Any]]

_NO_HINT = object()


class ConversionError(SwfBridgeError, ValueError):
    """A JSON value does not convert to the annotated type.

    Args:
        reason: What is wrong, e.g. ``"expected int, got a string"``.
        path: Where inside the value, e.g. ``"items[2].quantity"`` ("" at the top).
    """

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path

    def inside(self, step: str) -> ConversionError:
        """The same error, one level further out (``step`` is ``.name`` or ``[i]``)."""
        return ConversionError(self.reason, step + self.path)

    def __str__(self) -> str:
        where = self.path.lstrip(".")
        return f"{where}: {self.reason}" if where else self.reason


class ArgumentConversionError(SwfBridgeError, ValueError):
    """An argument of ``run`` does not convert to its annotation.

    Args:
        parameter: The parameter's name.
        error: Why.
    """

    def __init__(self, parameter: str, error: ConversionError) -> None:
        super().__init__(f"parameter {parameter!r}: {error}")
        self.parameter = parameter
        self.error = error


class AnnotationError(SwfBridgeError, TypeError):
    """``run``'s annotations cannot be resolved (a name not importable where ``run`` is)."""


def _pydantic_base() -> type | None:
    try:
        from pydantic import BaseModel
    except ImportError:
        return None
    return BaseModel


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def from_json(value: Any, tp: Any) -> Any:
    """Convert a JSON-native ``value`` to the annotation ``tp``.

    Raises:
        ConversionError: The value does not fit (``path`` says where).
    """
    if tp is Any or tp is object or tp is _NO_HINT:
        return value
    if tp is None or tp is type(None):
        if value is not None:
            raise ConversionError(f"expected null, got {json_kind(value)}")
        return None
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return from_json(value, typing.get_args(tp)[0])
    if origin is typing.Union or origin is types.UnionType:
        return _from_union(value, typing.get_args(tp))
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if any(value == a and type(value) is type(a) for a in allowed):
            return value
        raise ConversionError(f"expected one of {list(allowed)!r}, got {value!r}")
    if hasattr(tp, "__supertype__"):  # typing.NewType
        return from_json(value, tp.__supertype__)
    if origin is not None:
        return _from_generic(value, origin, typing.get_args(tp))
    if not isinstance(tp, type):
        raise ConversionError(f"unsupported annotation {tp!r}")
    return _from_class(value, tp)


def _from_union(value: Any, members: tuple[Any, ...]) -> Any:
    if value is None and type(None) in members:
        return None
    errors = []
    for member in members:
        if member is type(None):
            continue
        try:
            return from_json(value, member)
        except ConversionError as exc:
            errors.append(f"{_name(member)}: {exc}")
    raise ConversionError("matches no member of the union (" + "; ".join(errors) + ")")


_SEQUENCE_ORIGINS = (
    list,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Iterable,
    collections.abc.Collection,
)
_SET_ORIGINS = (set, frozenset, collections.abc.Set, collections.abc.MutableSet)
_MAPPING_ORIGINS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _from_generic(value: Any, origin: Any, args: tuple[Any, ...]) -> Any:
    if origin is tuple:
        if not isinstance(value, list):
            raise ConversionError(f"expected an array, got {json_kind(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_items(value, args[0]))
        if args == ((),):
            args = ()
        if len(value) != len(args):
            raise ConversionError(f"expected an array of {len(args)} items, got {len(value)}")
        return tuple(_item(v, a, i) for i, (v, a) in enumerate(zip(value, args, strict=True)))
    item = args[0] if args else Any
    if origin in _SEQUENCE_ORIGINS:
        if not isinstance(value, list):
            raise ConversionError(f"expected an array, got {json_kind(value)}")
        return _items(value, item)
    if origin in _SET_ORIGINS:
        if not isinstance(value, list):
            raise ConversionError(f"expected an array, got {json_kind(value)}")
        made = frozenset if origin is frozenset else set
        try:
            return made(_items(value, item))
        except TypeError as exc:  # unhashable items
            raise ConversionError(f"items cannot be in a set: {exc}") from None
    if origin in _MAPPING_ORIGINS:
        key_type, value_type = args if len(args) == 2 else (Any, Any)
        if not isinstance(value, dict):
            raise ConversionError(f"expected an object, got {json_kind(value)}")
        converted = {}
        for key, item_value in value.items():
            step = f"[{key!r}]"
            try:
                converted[_key(key, key_type)] = from_json(item_value, value_type)
            except ConversionError as exc:
                raise exc.inside(step) from None
        return converted
    if origin is type:
        raise ConversionError("a type cannot come from the wire")
    raise ConversionError(f"unsupported annotation {_name(origin)}[...]")


def _item(value: Any, tp: Any, index: int) -> Any:
    try:
        return from_json(value, tp)
    except ConversionError as exc:
        raise exc.inside(f"[{index}]") from None


def _items(values: list[Any], tp: Any) -> list[Any]:
    return [_item(v, tp, i) for i, v in enumerate(values)]


def _key(key: str, tp: Any) -> Any:
    if tp is Any or tp is str:
        return key
    if tp is int:
        try:
            return int(key)
        except ValueError:
            raise ConversionError(f"key {key!r} is not an integer") from None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _from_class(key, tp)
    raise ConversionError(f"unsupported key type {_name(tp)} (str, int or an Enum)")


def _from_class(value: Any, tp: type) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise ConversionError(f"expected a boolean, got {json_kind(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConversionError(f"expected an integer, got {json_kind(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConversionError(f"expected a number, got {json_kind(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConversionError(f"expected a string, got {json_kind(value)}")
        return value
    if issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = [m.value for m in tp]
            raise ConversionError(
                f"{value!r} is not a {tp.__name__} (one of {allowed!r})"
            ) from None
    if dataclasses.is_dataclass(tp):
        return _from_dataclass(value, tp)
    model = _pydantic_base()
    if model is not None and issubclass(tp, model):
        return _from_pydantic(value, tp)
    if typing.is_typeddict(tp):
        if not isinstance(value, dict):
            raise ConversionError(f"expected an object, got {json_kind(value)}")
        return value
    for standard, parse in _STANDARD.items():
        if tp is standard:
            return _from_text(value, tp, parse)
    if tp in (list, tuple, set, frozenset, dict):
        return _from_generic(value, tp, ())
    raise ConversionError(f"unsupported annotation {tp.__qualname__}")


def _from_text(value: Any, tp: type, parse: Callable[[Any], Any]) -> Any:
    if tp is decimal.Decimal and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ConversionError(f"expected a string ({tp.__name__}), got {json_kind(value)}")
    try:
        return parse(value)
    except (ValueError, decimal.InvalidOperation) as exc:
        raise ConversionError(f"{value!r} is not a valid {tp.__name__} ({exc})") from None


def _parse_decimal(text: str) -> decimal.Decimal:
    number = decimal.Decimal(text)
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


_STANDARD: dict[type, Callable[[Any], Any]] = {
    datetime.datetime: datetime.datetime.fromisoformat,
    datetime.date: datetime.date.fromisoformat,
    datetime.time: datetime.time.fromisoformat,
    uuid.UUID: uuid.UUID,
    decimal.Decimal: _parse_decimal,
}


def _from_dataclass(value: Any, cls: type) -> Any:
    if not isinstance(value, dict):
        raise ConversionError(f"expected an object ({cls.__name__}), got {json_kind(value)}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ConversionError(
            f"unknown field(s) {', '.join(map(repr, unknown))} for {cls.__name__}"
        )
    converted = {}
    for name, field in fields.items():
        if name not in value:
            if (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                raise ConversionError(f"missing field {name!r} of {cls.__name__}")
            continue
        try:
            converted[name] = from_json(value[name], hints.get(name, Any))
        except ConversionError as exc:
            raise exc.inside(f".{name}") from None
    try:
        return cls(**converted)
    except Exception as exc:  # __post_init__ validation of the user's class
        raise ConversionError(f"{cls.__name__}(...) raised {type(exc).__name__}: {exc}") from None


def _from_pydantic(value: Any, cls: type) -> Any:
    from pydantic import ValidationError

    try:
        return cls.model_validate(value)  # type: ignore[attr-defined]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(value)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConversionError(f"invalid {cls.__name__}: {problems}") from None


_hint_cache: dict[Any, dict[str, Any]] = {}
_hint_lock = threading.Lock()


def _hints(obj: Any) -> dict[str, Any]:
    """``typing.get_type_hints(obj)``, cached; :class:`AnnotationError` if unresolvable."""
    key = obj
    with _hint_lock:
        cached = _hint_cache.get(key)
    if cached is not None:
        return cached
    try:
        hints = typing.get_type_hints(obj, include_extras=True)
    except Exception as exc:
        raise AnnotationError(
            f"the annotations of {getattr(obj, '__qualname__', obj)!r} cannot be resolved "
            f"({type(exc).__name__}: {exc})"
        ) from None
    with _hint_lock:
        _hint_cache[key] = hints
    return hints


def convert_arguments(
    run: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]
) -> Arguments:
    """Convert decoded arguments to the types annotated on ``run`` (a bound method).

    Parameters without an annotation pass through unchanged; ``*args`` and
    ``**kwargs`` annotations apply to each of their values.

    Raises:
        ArgumentConversionError: An argument does not convert (names the parameter).
        AnnotationError: ``run``'s annotations cannot be resolved.
        TypeError: The arguments do not fit ``run``'s signature.
    """
    function = getattr(run, "__func__", run)
    hints = _hints(function)
    signature = inspect.signature(run)
    bound = signature.bind(*args, **kwargs)
    for name, value in bound.arguments.items():
        parameter = signature.parameters[name]
        hint = hints.get(name, _NO_HINT)
        if hint is _NO_HINT:
            continue
        try:
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                bound.arguments[name] = tuple(_items(list(value), hint))
            elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
                converted = {}
                for key, item in value.items():
                    try:
                        converted[key] = from_json(item, hint)
                    except ConversionError as exc:
                        raise exc.inside(f"[{key!r}]") from None
                bound.arguments[name] = converted
            else:
                bound.arguments[name] = from_json(value, hint)
        except ConversionError as exc:
            raise ArgumentConversionError(name, exc) from None
    return list(bound.args), dict(bound.kwargs)


def to_json(value: Any) -> Any:
    """A result as JSON-native values: dataclasses and Pydantic models become
    objects, enums their values, dates and times ISO 8601 text, ``UUID`` and
    ``Decimal`` text, tuples and sets arrays. Other values are returned as they
    are (the wire format's JSON encoder then accepts or refuses them).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    model = _pydantic_base()
    if model is not None and isinstance(value, model):
        return value.model_dump(mode="json")  # type: ignore[attr-defined]
    if isinstance(value, dict):
        return {_json_key(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [to_json(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    return value


def _json_key(key: Any) -> Any:
    if isinstance(key, enum.Enum):
        key = key.value
    return str(key) if isinstance(key, int) and not isinstance(key, bool) else key
