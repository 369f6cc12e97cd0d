"""The inbox contract on PostgreSQL, plus what only a real database can show."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.postgres.inbox import PostgresInbox
from adapters.postgres.pool import open_pool
from tests.unit.inbox_contract import InboxContract, upd

pytestmark = pytest.mark.integration


class TestPostgresInbox(InboxContract):
    @pytest.fixture
    async def inbox(self, pg_url: str) -> AsyncIterator[PostgresInbox]:
        pool = await open_pool(pg_url, max_size=10)
        try:
            yield PostgresInbox(pool)
        finally:
            await pool.close()

    async def test_concurrent_duplicates_in_one_batch_report_one_insert(
        self, inbox: PostgresInbox
    ) -> None:
        results = await asyncio.gather(*(inbox.store(9, upd(9), 1) for _ in range(20)))
        assert sorted(results) == [False] * 19 + [True]
        assert await inbox.depth() == 1

    async def test_many_concurrent_stores_are_all_durable(self, inbox: PostgresInbox) -> None:
        results = await asyncio.gather(*(inbox.store(n, upd(n, n % 7), n % 7) for n in range(500)))
        assert all(results)
        assert await inbox.depth() == 500
