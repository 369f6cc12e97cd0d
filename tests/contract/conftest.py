"""Every contract test runs against InMemoryStorage and PostgresStorage alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.memory.storage import InMemoryStorage
from adapters.postgres.pool import open_pool
from adapters.postgres.storage import PostgresStorage
from core.ports.storage import StoragePort
from tests.pg import migrated_template, pg_cluster, pg_url

__all__ = ["migrated_template", "pg_cluster", "pg_url"]


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("postgres", marks=pytest.mark.integration),
    ]
)
def storage_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-memory adapter; resolved here, outside the event loop, because the
    PostgreSQL fixtures create databases synchronously."""
    return None if request.param == "memory" else request.getfixturevalue("pg_url")


@pytest.fixture
async def storage(storage_url: str | None) -> AsyncIterator[StoragePort]:
    if storage_url is None:
        yield InMemoryStorage()
        return
    pool = await open_pool(storage_url, max_size=20)
    try:
        yield PostgresStorage(pool)
    finally:
        await pool.close()
