"""A value made on first use in each process: the one rule for lazy clients.

boto3 clients and Redis connections must not cross a fork (a prefork Celery
worker forks its pool after the app is set up), so each process makes its
own, on first use, under a lock (threads of one process share it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    """Holds ``make()``'s value for the process that made it.

    Args:
        make: Builds the value; called again in a process (e.g. a forked
            child) that has not made its own yet. A failure is not cached.
    """

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._value: T
        self._pid: int | None = None

    def get(self) -> T:
        """This process's value, made now if it has none."""
        pid = os.getpid()
        with self._lock:
            if self._pid != pid:
                self._value = self._make()
                self._pid = pid
            return self._value


def per_process(owner: object, name: str, make: Callable[[], T]) -> T:
    """``owner``'s per-process value called ``name`` (kept on ``owner``), made by ``make``.

    For objects whose construction swfbridge does not control (a Celery task).
    """
    holder: PerProcess[T] | None = vars(owner).get(name)
    if holder is None:
        holder = PerProcess(make)
        setattr(owner, name, holder)
    return holder.get()
