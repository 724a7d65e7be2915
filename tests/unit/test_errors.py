"""The one rooted hierarchy of swfbridge's errors."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import swfbridge
from swfbridge.errors import ActivityCancelled, ActivityFailed, ConfigurationError, SwfBridgeError

# Signals from activity code to the bridge, not errors of the bridge.
_SIGNALS = {ActivityFailed, ActivityCancelled}


def _exception_classes() -> list[type[Exception]]:
    found: set[type[Exception]] = set()
    for module_info in pkgutil.walk_packages(swfbridge.__path__, "swfbridge."):
        if module_info.name in ("swfbridge.__main__", "swfbridge.celery"):
            continue  # running them starts a program or reads the environment
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            # Only errors: a BaseException that is not an Exception is a
            # control-flow signal (like KeyboardInterrupt), e.g. the demo's _Stopped.
            if (
                isinstance(value, type)
                and issubclass(value, Exception)
                and value.__module__.startswith("swfbridge.")
            ):
                found.add(value)
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def test_every_error_swfbridge_defines_derives_from_swfbridge_error() -> None:
    strays = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _exception_classes()
        if cls not in _SIGNALS and not issubclass(cls, SwfBridgeError)
    ]

    assert strays == []


@pytest.mark.parametrize("name", ["MalformedJob", "InputDecodeError", "ResultEncodeError"])
def test_errors_that_were_value_errors_still_are(name: str) -> None:
    from swfbridge.wire import job, serialization

    cls = getattr(job, name, None) or getattr(serialization, name)

    assert issubclass(cls, ValueError)


def test_a_configuration_error_is_also_a_value_error_for_callers_that_caught_that() -> None:
    from swfbridge.state.store import StateConfig

    with pytest.raises(ValueError, match="Redis URL"):
        StateConfig(url="amqp://guest@localhost//")

    assert issubclass(ConfigurationError, ValueError)
