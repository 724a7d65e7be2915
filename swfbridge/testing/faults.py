"""Fault injection: make a fraction of chosen SWF operations fail."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from swfbridge.errors import ConfigurationError

FaultKind = Literal["throttle", "error"]
FAULT_KINDS: tuple[FaultKind, ...] = ("throttle", "error")


@dataclass(frozen=True)
class FaultPlan:
    """Which operations fail, how often, and how.

    Attributes:
        operations: SWF operation names (``"PollForActivityTask"``...); empty means all.
        fraction: probability in [0, 1] that a matching request fails.
        kind: ``"throttle"`` answers HTTP 400 ``ThrottlingException``;
            ``"error"`` answers HTTP 500 ``InternalFailure``.
    """

    operations: frozenset[str]
    fraction: float
    kind: FaultKind

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ConfigurationError(f"fraction must be within [0, 1], got {self.fraction!r}")
        if self.kind not in FAULT_KINDS:
            raise ConfigurationError(f"kind must be one of {FAULT_KINDS}, got {self.kind!r}")

    @classmethod
    def build(
        cls, *, operations: Iterable[str] = (), fraction: float = 1.0, kind: str = "throttle"
    ) -> FaultPlan:
        """Validate loose input (from JSON, say) into a plan.

        Raises:
            ConfigurationError: on an unknown kind or a fraction outside [0, 1].
        """
        if isinstance(operations, str):
            operations = [operations]
        if kind not in FAULT_KINDS:
            raise ConfigurationError(f"kind must be one of {FAULT_KINDS}, got {kind!r}")
        checked: FaultKind = "throttle" if kind == "throttle" else "error"
        return cls(operations=frozenset(operations), fraction=float(fraction), kind=checked)


class FaultInjector:
    """Holds the current :class:`FaultPlan` and draws which requests fail."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._plan: FaultPlan | None = None
        self._random = random.Random(seed)

    @property
    def plan(self) -> FaultPlan | None:
        """The active plan, or None."""
        return self._plan

    def set(self, plan: FaultPlan) -> None:
        """Replace the active plan."""
        with self._lock:
            self._plan = plan

    def clear(self) -> None:
        """Stop injecting faults."""
        with self._lock:
            self._plan = None

    def draw(self, operation: str) -> FaultKind | None:
        """Return the fault to answer ``operation`` with, or None to serve it normally."""
        with self._lock:
            plan = self._plan
            if plan is None:
                return None
            if plan.operations and operation not in plan.operations:
                return None
            if self._random.random() >= plan.fraction:
                return None
            return plan.kind


#: The injector every patched SWF request consults.
INJECTOR = FaultInjector()
