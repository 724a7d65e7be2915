"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import processes


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server for the whole session (broker and bridge state)."""
    with processes.redis_server() as url:
        yield url
