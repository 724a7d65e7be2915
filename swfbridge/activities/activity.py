"""The ``Activity`` base class and the ``@activity`` registration decorator."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from swfbridge.activities.options import (
    DEFAULT_HEARTBEAT_S,
    DEFAULT_SCHEDULE_TO_CLOSE_S,
    DEFAULT_SCHEDULE_TO_START_S,
    DEFAULT_START_TO_CLOSE_S,
    ActivityOptions,
)
from swfbridge.errors import ActivityCancelled, ConfigurationError
from swfbridge.wire.serialization import FLOWY, Arguments, WireFormat

if TYPE_CHECKING:
    from swfbridge.activities.registry import ActivityRegistry


class TaskRuntime(Protocol):
    """What a running activity can ask of the bridge (implemented by the worker)."""

    @property
    def token(self) -> str: ...

    @property
    def cancel_requested(self) -> bool: ...

    def heartbeat(self, details: Any = None) -> bool: ...


class Activity:
    """Base class of activities: subclass it and override :meth:`run`.

    ``run`` may have any Python signature; the task input is decoded into its
    positional and keyword arguments, and its return value is sent back to SWF
    as the result. Both travel as JSON by default (see :attr:`wire_format`).
    ``run`` may be ``async def``: the worker then runs it on its process's
    event loop, and cancellation arrives as :class:`asyncio.CancelledError`.

    Example::

        @activity("1.0")
        class Echo(Activity):
            def run(self, value):
                return value
    """

    #: How input is decoded and results encoded (flowy's ``[args, kwargs]`` by default).
    #: Set it on the class; a worker started with another default wire format sets
    #: it on the instances of classes that do not.
    wire_format: WireFormat = FLOWY

    #: Convert arguments to the types annotated on ``run`` (dataclasses, Pydantic
    #: models, enums, dates ...) and the result back to JSON. Off by default:
    #: annotations are then only documentation. The wire stays JSON either way.
    typed: bool = False

    _runtime: TaskRuntime | None = None

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Do the work. Override in subclasses."""
        raise NotImplementedError(f"{type(self).__name__} does not override run()")

    @property
    def token(self) -> str:
        """The SWF task token of the task being run.

        It is a secret, so never log it.
        """
        return self._require_runtime().token

    @property
    def cancel_requested(self) -> bool:
        """True once SWF has asked to cancel this task (for cooperative checks)."""
        return self._runtime is not None and self._runtime.cancel_requested

    def heartbeat(self, details: Any = None) -> bool:
        """Record progress; call it as often as you like.

        The bridge coalesces calls and sends the latest ``details`` to SWF at a
        pace derived from the task's heartbeat timeout. Details may be a string
        or any JSON-serialisable value (clipped to SWF's 2,048 characters).

        Returns:
            True while SWF still wants the result, False once SWF no longer
            knows the task (timed out or closed elsewhere): stop working then.

        Raises:
            ActivityCancelled: SWF has requested cancellation of this task.
        """
        return self._require_runtime().heartbeat(details)

    def check_cancelled(self) -> None:
        """Raise :class:`ActivityCancelled` if SWF has requested cancellation."""
        if self.cancel_requested:
            raise ActivityCancelled()

    def _deserialize_arguments(self, input: str | None) -> Arguments:
        """Decode the task input into ``run``'s positional and keyword arguments.

        Part of the public contract despite the underscore (the name flowy
        gave it): override it, with :meth:`_serialize_result`, to read another
        input format. The worker calls it once per attempt, before ``run``.

        Args:
            input: The task input as SWF gave it (S3 references already
                resolved); None when the task has no input.

        Returns:
            ``(args, kwargs)`` for ``run``.

        Raises:
            Exception: Any exception fails the task with reason
                ``swfbridge: input could not be decoded: ...``.
        """
        return self.wire_format.decode_input(input)

    def _serialize_result(self, value: Any) -> str | None:
        """Encode ``run``'s return value as the SWF result.

        Part of the public contract despite the underscore (the name flowy
        gave it); see :meth:`_deserialize_arguments`.

        Args:
            value: What ``run`` returned.

        Returns:
            The result text (None: a result-less completion).

        Raises:
            Exception: Any exception fails the task with reason
                ``swfbridge: result is not JSON-serialisable: ...``.
        """
        return self.wire_format.encode_result(value)

    def _require_runtime(self) -> TaskRuntime:
        if self._runtime is None:
            raise RuntimeError("this activity is not running inside swfbridge")
        return self._runtime

    def _bind(self, runtime: TaskRuntime) -> None:
        self._runtime = runtime


A = TypeVar("A", bound=type[Activity])


def activity(
    version: str,
    name: str | None = None,
    *,
    task_list: str | None = None,
    heartbeat: float | None = DEFAULT_HEARTBEAT_S,
    schedule_to_start: float | None = DEFAULT_SCHEDULE_TO_START_S,
    schedule_to_close: float | None = DEFAULT_SCHEDULE_TO_CLOSE_S,
    start_to_close: float | None = DEFAULT_START_TO_CLOSE_S,
    priority: int | None = None,
    description: str | None = None,
    auto_heartbeat: bool = False,
    registry: ActivityRegistry | None = None,
) -> Callable[[A], A]:
    """Register an :class:`Activity` subclass as SWF activity type ``(name, version)``.

    Args:
        version: The activity type's version. SWF types are immutable: change
            the version to change any default below.
        name: The type name; defaults to the class name.
        task_list: Default task list registered with SWF (None: deciders must name one).
        heartbeat: Default heartbeat timeout in seconds (None: no heartbeat timeout).
        schedule_to_start: Default time a task may wait in SWF before a poll takes it.
        schedule_to_close: Default time from scheduling to completion.
        start_to_close: Default time from the poll to completion. swfbridge also
            uses it as the job's deadline in Celery.
        priority: Default task priority (higher first within a task list).
        description: Registered description.
        auto_heartbeat: Send liveness heartbeats for this activity while it runs,
            without progress details (for code that cannot call ``heartbeat``).
        registry: Registry to add the type to (the process-wide default if None).

    Raises:
        DuplicateActivityError: Another class already registered ``(name, version)``.
        ConfigurationError: An option is invalid, or the class is not an Activity.
    """
    from swfbridge.activities.registry import default_registry

    def decorate(cls: A) -> A:
        if not (isinstance(cls, type) and issubclass(cls, Activity)):
            raise ConfigurationError(f"@activity decorates Activity subclasses, not {cls!r}")
        options = ActivityOptions(
            name=name if name is not None else cls.__name__,
            version=version,
            task_list=task_list,
            heartbeat_s=heartbeat,
            schedule_to_start_s=schedule_to_start,
            schedule_to_close_s=schedule_to_close,
            start_to_close_s=start_to_close,
            priority=priority,
            description=description,
            auto_heartbeat=auto_heartbeat,
        )
        (registry if registry is not None else default_registry).add(cls, options)
        return cls

    return decorate
