"""kombu's filesystem transport, with each message written atomically.

kombu's own ``_put`` creates the message file and then writes it, while its
``_get`` moves away any file it sees: a consumer polling at the wrong moment
takes an empty file, fails to decode it, and the message is lost. Writing to
a hidden temporary name and renaming it into place (atomic on one
filesystem) means a consumer only ever sees whole messages.
"""

from __future__ import annotations

import os
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


class Transport(filesystem.Transport):
    Channel = Channel
