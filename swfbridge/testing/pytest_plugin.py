"""pytest fixtures for the local SWF endpoint (registered as the ``swfbridge`` plugin).

Fixtures:
    local_swf_server: one :class:`~swfbridge.testing.LocalSWF` per test session
        (poll timeout 2 s, retention 30 s).
    local_swf: the session server, reset (state and faults) before each test.
        Use it when the defaults suit; build your own ``LocalSWF(...)`` when a
        test needs other settings (moto's state is per process, so do not mix
        both in one test).
    swf_client: a boto3 SWF client for ``local_swf``.

This module imports nothing heavy at import time: moto and boto3 are imported
inside the fixtures, so the plugin loads even where moto is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from swfbridge.testing.server import LocalSWF

SESSION_POLL_TIMEOUT_S = 2.0
SESSION_RETENTION_S = 30.0


@pytest.fixture(scope="session")
def local_swf_server() -> Iterator[LocalSWF]:
    """A local SWF endpoint shared by the whole test session."""
    from swfbridge.testing.server import LocalSWF

    with LocalSWF(poll_timeout_s=SESSION_POLL_TIMEOUT_S, retention_s=SESSION_RETENTION_S) as server:
        yield server


@pytest.fixture
def local_swf(local_swf_server: LocalSWF) -> Iterator[LocalSWF]:
    """The session's local SWF endpoint, with fresh state and no faults."""
    from swfbridge.testing import _runtime

    _runtime.SETTINGS.poll_timeout_s = local_swf_server.config.poll_timeout_s
    _runtime.SETTINGS.retention_s = local_swf_server.config.retention_s
    local_swf_server.reset()
    yield local_swf_server
    local_swf_server.clear_faults()


@pytest.fixture
def swf_client(local_swf: LocalSWF) -> Any:
    """A boto3 SWF client for :func:`local_swf` (no retries)."""
    return local_swf.client()
