"""kombu's filesystem transport, with each message written atomically.

kombu's own ``_put`` creates the message file and then writes it, while its
``_get`` moves away any file it sees: a consumer polling at the wrong moment
takes an empty file, fails to decode it, and the message is lost. Writing to
a hidden temporary name and renaming it into place (atomic on one
filesystem) means a consumer only ever sees whole messages.

Its worker also stops at once on SIGTERM: Celery drives a polling transport
with its blocking loop, which looks for a shutdown only between calls of
``drain_events(timeout=2.0)`` and makes one more call after it, and kombu's
polling wait sits each of them out, so a warm shutdown began ~4 s after the
signal. Here the wait ends as soon as the worker is stopping.
"""

from __future__ import annotations

import os
import sys
import uuid
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu's stubs name the argument differently in the base and filesystem classes.
    def _put(  # type: ignore[override]
        self, queue: str, payload: dict[str, Any], **kwargs: Any
    ) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        # A leading dot: kombu's _get skips names that are not "<stamp>.<queue>.msg".
        staging = os.path.join(self.data_folder_out, f".{name}.tmp")
        with open(staging, "wb") as f:
            f.write(dumps(payload).encode())
        os.replace(staging, os.path.join(self.data_folder_out, name))


#: How often a wait for messages looks whether the worker is stopping.
SHUTDOWN_CHECK_S = 0.2


def worker_stopping() -> bool:
    """True once this process is a Celery worker told to stop (warm or cold).

    The same test as ``celery.worker.state.maybe_shutdown`` (the exit code
    kept in the flag may be 0). False in a process that is no worker.
    """
    state = sys.modules.get("celery.worker.state")
    if state is None:
        return False
    flags = (state.should_stop, state.should_terminate)
    return any(flag is not None and flag is not False for flag in flags)


class Transport(filesystem.Transport):
    Channel = Channel

    # kombu's stubs type the base class's wait as (connection, **kwargs).
    def drain_events(  # type: ignore[override]
        self, connection: Any, timeout: float | None = None
    ) -> None:
        """kombu's wait for a message, in steps, given up once the worker is stopping."""
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            if worker_stopping():
                raise TimeoutError()
            step = SHUTDOWN_CHECK_S
            if deadline is not None:
                step = min(step, deadline - monotonic())
                if step <= 0:
                    raise TimeoutError()
            try:
                super().drain_events(connection, timeout=step)
                return
            except TimeoutError:
                continue
