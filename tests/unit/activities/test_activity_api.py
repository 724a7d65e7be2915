from __future__ import annotations

import pytest

from swfbridge import (
    Activity,
    ActivityRegistry,
    ConfigurationError,
    DuplicateActivityError,
    activity,
)
from swfbridge.activities.options import ActivityOptions, format_timeout


def test_the_decorator_registers_under_the_class_name_and_version() -> None:
    registry = ActivityRegistry()

    @activity("2.0", registry=registry, start_to_close=10, heartbeat=None)
    class Resize(Activity):
        pass

    entry = registry.get("Resize", "2.0")
    assert entry is not None and entry.cls is Resize
    assert entry.options.start_to_close_s == 10
    assert entry.options.registration_defaults()["defaultTaskHeartbeatTimeout"] == "NONE"


def test_an_explicit_name_overrides_the_class_name() -> None:
    registry = ActivityRegistry()

    @activity("1", name="image.resize", registry=registry)
    class Resize(Activity):
        pass

    assert registry.get("image.resize", "1") is not None
    assert registry.get("Resize", "1") is None


def test_a_second_class_with_the_same_name_and_version_is_rejected_at_import() -> None:
    registry = ActivityRegistry()

    @activity("1", name="Same", registry=registry)
    class First(Activity):
        pass

    with pytest.raises(DuplicateActivityError, match="registered twice"):

        @activity("1", name="Same", registry=registry)
        class Second(Activity):
            pass


def test_registering_the_same_class_again_is_allowed() -> None:
    registry = ActivityRegistry()

    class Again(Activity):
        pass

    activity("1", registry=registry)(Again)
    activity("1", registry=registry)(Again)
    assert len(registry) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_to_close": 0},
        {"heartbeat": -1},
        {"schedule_to_start": "60"},
        {"priority": 1.5},
        {"schedule_to_close": float("inf")},
    ],
)
def test_invalid_options_are_refused_with_a_clear_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        activity("1", registry=ActivityRegistry(), **kwargs)(  # type: ignore[arg-type]
            type("X", (Activity,), {})
        )


def test_only_activity_subclasses_can_be_decorated() -> None:
    with pytest.raises(ConfigurationError, match="Activity subclasses"):
        activity("1", registry=ActivityRegistry())(object)  # type: ignore[type-var]


def test_timeouts_are_formatted_as_swf_expects() -> None:
    assert format_timeout(None) == "NONE"
    assert format_timeout(300) == "300"
    assert format_timeout(0.5) == "0.5"
    options = ActivityOptions(name="n", version="v", priority=5)
    assert options.registration_defaults()["defaultTaskPriority"] == "5"


def test_heartbeat_outside_the_bridge_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not running inside swfbridge"):
        Activity().heartbeat()
    assert Activity().cancel_requested is False
