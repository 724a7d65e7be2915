"""The exceptions swfbridge raises or lets activities raise.

Everything swfbridge itself raises derives from :class:`SwfBridgeError`, and
every invalid setting of a config object raises :class:`ConfigurationError`.
Errors that were a ``ValueError`` before the hierarchy was rooted (malformed
jobs, undecodable inputs, unencodable results) still are. The two
exceptions activity code uses, :class:`ActivityFailed` and
:class:`ActivityCancelled`, are separate: they are signals from the activity to
the bridge, not errors of the bridge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swfbridge.wire.outcome import Failed


class SwfBridgeError(Exception):
    """Root of the errors raised by swfbridge itself."""


class ConfigurationError(SwfBridgeError, ValueError):
    """Invalid configuration: bad option values, unknown modules, clashing names.

    Also a :class:`ValueError`, which config objects raised before: code that
    catches ``ValueError`` around them keeps working.
    """


class DuplicateActivityError(ConfigurationError):
    """Two different classes registered the same activity ``(name, version)``."""


class TaskRefused(SwfBridgeError):
    """The bridge cannot run this task; ``failure`` is what to tell SWF."""

    def __init__(self, failure: Failed) -> None:
        super().__init__(failure.reason)
        self.failure = failure


class ActivityFailed(Exception):
    """Raise from ``Activity.run`` to fail the SWF task with a chosen reason.

    Args:
        reason: Short, human-readable cause. SWF keeps at most 256 characters;
            longer reasons are truncated with a visible marker.
        details: Optional details: a string is sent as is, any other value is
            encoded as JSON. SWF keeps at most 32,768 characters.
    """

    def __init__(self, reason: str, details: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class ActivityCancelled(Exception):
    """Raised inside ``Activity.run`` once SWF has requested cancellation.

    Let it propagate (or raise it yourself after cleaning up): the bridge then
    answers ``RespondActivityTaskCanceled``. A broad ``except Exception`` in
    activity code should re-raise it.

    Args:
        details: Optional details for the ActivityTaskCanceled event.
    """

    def __init__(self, details: Any = None) -> None:
        super().__init__("cancellation requested by SWF")
        self.details = details
