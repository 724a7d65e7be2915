"""Process-wide state shared by the patched moto SWF backend.

moto keeps its backends in module-level registries, so everything that
extends them (the lock, the long-poll condition, the settings) is
process-wide too. One :class:`threading.RLock` serialises every state
change; pollers wait on a :class:`threading.Condition` built on that lock,
which releases it while they wait.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

#: Guards every read and write of moto's SWF state (requests, sweeper, timers).
LOCK = threading.RLock()
#: Notified (under LOCK) whenever a task is scheduled or state is reset.
TASKS_CHANGED = threading.Condition(LOCK)

#: Every SWF backend instance created since the patches were applied.
BACKENDS: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass
class Settings:
    """Mutable process-wide knobs, set by the server that owns the process."""

    poll_timeout_s: float = 60.0
    retention_s: float = 300.0


SETTINGS = Settings()

_epoch = 0


def epoch() -> int:
    """A counter bumped on every reset: waiting polls give up when it changes."""
    return _epoch


def bump_epoch() -> None:
    """Invalidate waiting polls (call with LOCK held)."""
    global _epoch
    _epoch += 1
    TASKS_CHANGED.notify_all()
