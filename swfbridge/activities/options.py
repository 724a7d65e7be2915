"""Per-activity-type options: SWF registration defaults and bridge behaviour."""

from __future__ import annotations

from dataclasses import dataclass

from swfbridge.checks import check_seconds
from swfbridge.errors import ConfigurationError

# Defaults, in seconds; ``None`` is SWF's "NONE" (no limit).
#
# * start_to_close 300 s: long enough for most jobs, short enough that a lost
#   attempt is noticed within minutes. Raise it for long activities.
# * schedule_to_start 3600 s: swfbridge keeps its backlog in SWF (it polls only
#   when the fleet has room), so tasks may legitimately wait there a while.
# * schedule_to_close None: bounded anyway by schedule_to_start + start_to_close.
# * heartbeat None: only activities that call ``heartbeat()`` should set one.
DEFAULT_START_TO_CLOSE_S: float | None = 300
DEFAULT_SCHEDULE_TO_START_S: float | None = 3600
DEFAULT_SCHEDULE_TO_CLOSE_S: float | None = None
DEFAULT_HEARTBEAT_S: float | None = None

MAX_NAME = 256
MAX_VERSION = 64
MAX_DESCRIPTION = 1024


def format_timeout(value: float | None) -> str:
    """SWF's text form of a timeout: whole seconds, or ``"NONE"``."""
    if value is None:
        return "NONE"
    if float(value).is_integer():
        return str(int(value))
    # Fractions are only understood by swfbridge's local endpoint (tests).
    return repr(float(value))


def parse_timeout(text: str | None) -> float | None:
    """Inverse of :func:`format_timeout`; ``None``/"NONE" mean no limit."""
    if text is None or text == "NONE":
        return None
    return float(text)


@dataclass(frozen=True)
class ActivityOptions:
    """How one activity type is registered with SWF and run by the bridge.

    Timeouts are in seconds; ``None`` means SWF's ``"NONE"``.
    """

    name: str
    version: str
    task_list: str | None = None
    heartbeat_s: float | None = DEFAULT_HEARTBEAT_S
    schedule_to_start_s: float | None = DEFAULT_SCHEDULE_TO_START_S
    schedule_to_close_s: float | None = DEFAULT_SCHEDULE_TO_CLOSE_S
    start_to_close_s: float | None = DEFAULT_START_TO_CLOSE_S
    priority: int | None = None
    description: str | None = None
    auto_heartbeat: bool = False

    def __post_init__(self) -> None:
        where = f"activity {self.name!r} version {self.version!r}"
        if not isinstance(self.name, str) or not 0 < len(self.name) <= MAX_NAME:
            raise ConfigurationError(f"{where}: name must be 1-{MAX_NAME} characters")
        if not isinstance(self.version, str) or not 0 < len(self.version) <= MAX_VERSION:
            raise ConfigurationError(
                f"{where}: version must be a string of 1-{MAX_VERSION} characters"
            )
        for field in (
            "heartbeat_s",
            "schedule_to_start_s",
            "schedule_to_close_s",
            "start_to_close_s",
        ):
            check_seconds(
                f"{where}: {field.removesuffix('_s')}",
                getattr(self, field),
                allow_zero=False,
                optional=True,
            )
        if self.priority is not None and (
            isinstance(self.priority, bool) or not isinstance(self.priority, int)
        ):
            raise ConfigurationError(f"{where}: priority must be an int or None")
        if self.description is not None and len(self.description) > MAX_DESCRIPTION:
            raise ConfigurationError(
                f"{where}: description is longer than {MAX_DESCRIPTION} characters"
            )

    @property
    def key(self) -> tuple[str, str]:
        """The registry key: ``(name, version)``."""
        return (self.name, self.version)

    def registration_defaults(self) -> dict[str, str]:
        """The type defaults as ``RegisterActivityType`` takes them."""
        defaults = {
            "defaultTaskHeartbeatTimeout": format_timeout(self.heartbeat_s),
            "defaultTaskScheduleToStartTimeout": format_timeout(self.schedule_to_start_s),
            "defaultTaskScheduleToCloseTimeout": format_timeout(self.schedule_to_close_s),
            "defaultTaskStartToCloseTimeout": format_timeout(self.start_to_close_s),
        }
        if self.priority is not None:
            defaults["defaultTaskPriority"] = str(self.priority)
        return defaults
