"""PostgresInbox beyond the shared contract (tests/contract/test_inbox_contract.py): what only
a real database can show."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.memory.metrics import InMemoryMetrics
from adapters.postgres.inbox import CLAIMER_CLASS, PostgresInbox
from adapters.postgres.pool import open_pool
from core.ports.inbox import InboxUnavailable
from core.usecases.inbox_workers import InboxWorkers
from tests.contract.inbox_support import ids, upd
from tests.fakes.waiting import until

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def claimer(url: str) -> AsyncIterator[PostgresInbox]:
    """A PostgresInbox on a pool of its own, as a separate process would have."""
    pool = await open_pool(url, max_size=4)
    inbox = PostgresInbox(pool)
    try:
        yield inbox
    finally:
        await inbox.close()
        await pool.close()


async def sql(url: str, query: str, *params: Any) -> tuple[Any, ...] | None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(query, params)
        return await cur.fetchone()


async def liveness_pid(url: str, inbox: PostgresInbox) -> int | None:
    """The backend holding the inbox's advisory lock, found the way other claimers see it."""
    row = await sql(
        url,
        """SELECT l.pid FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid::bigint = %s AND l.objid::bigint = %s""",
        CLAIMER_CLASS,
        inbox.claimer_key,
    )
    return None if row is None else int(row[0])


async def kill_liveness(url: str, inbox: PostgresInbox) -> int:
    """Terminate the backend holding the inbox's lock, as a kill -9 of its process would."""
    pid = await liveness_pid(url, inbox)
    assert pid is not None, "the inbox holds no liveness lock"
    row = await sql(url, "SELECT pg_terminate_backend(%s, 5000)", pid)  # waits until it is gone
    assert row is not None
    assert row[0] is True
    return pid


class TestPostgresInbox:
    @pytest.fixture
    async def pool(self, pg_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
        pool = await open_pool(pg_url, max_size=10)
        try:
            yield pool
        finally:
            await pool.close()

    @pytest.fixture
    async def inbox(self, pool: AsyncConnectionPool[Any]) -> AsyncIterator[PostgresInbox]:
        inbox = PostgresInbox(pool)
        try:
            yield inbox
        finally:
            await inbox.close()

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


async def test_killed_liveness_connection_frees_claims_at_once(pg_url: str) -> None:
    async with claimer(pg_url) as a, claimer(pg_url) as b:
        for n, chat in [(1, 7), (2, 7), (3, 8)]:
            await a.store(n, upd(n, chat), chat)
        assert await ids(a, limit=1, lease=3600) == [1]
        assert await ids(b, lease=3600) == [3]  # 1 is A's, 2 waits for it
        key = a.claimer_key
        old_pid = await kill_liveness(pg_url, a)

        assert await ids(b, lease=3600) == [1]  # at once: no waiting for A's hour-long lease
        await a.release([1])  # A's late outcome must not undo B's claim
        assert await ids(a) == []  # A re-establishes its liveness and finds nothing free
        assert a.claimer_key == key  # … under its old key
        assert await liveness_pid(pg_url, a) not in (None, old_pid)
        assert await a.renew(60) == 0  # 1 is B's now, not renewed by A
        row = await sql(pg_url, "SELECT claimed_by FROM update_inbox WHERE update_id = 1")
        assert row == (b.claimer_key,)


async def test_live_claimer_that_renews_keeps_a_slow_update_past_its_lease(
    pg_url: str,
) -> None:
    lease = 1.0
    release = asyncio.Event()
    handled: Counter[str] = Counter()
    b_attempts = 0

    def handler(name: str):  # type: ignore[no-untyped-def]
        async def handle(update: Mapping[str, Any]) -> None:
            handled[name] += 1
            if name == "a":
                await release.wait()

        return handle

    async with claimer(pg_url) as a, claimer(pg_url) as b:
        claim_b = b.claim

        async def counting_claim(limit: int, lease_seconds: float) -> Any:
            nonlocal b_attempts
            b_attempts += 1
            return await claim_b(limit, lease_seconds)

        b.claim = counting_claim  # type: ignore[method-assign]
        await a.store(1, upd(1), 1)
        slow = InboxWorkers(
            a,
            handler("a"),
            InMemoryMetrics(),
            workers=1,
            lease_seconds=lease,
            renew_interval=0.2,
            idle_poll=0.02,
        )
        rival = InboxWorkers(
            b, handler("b"), InMemoryMetrics(), workers=2, lease_seconds=lease, idle_poll=0.02
        )
        slow.start()
        try:
            await until(lambda: handled["a"] == 1, what="A is handling update 1")
            first = await sql(pg_url, "SELECT locked_until FROM update_inbox WHERE update_id = 1")
            assert first is not None
            rival.start()
            # Three lease lengths past the end of A's first lease, with B trying all along.
            end = first[0] + timedelta(seconds=3 * lease)

            async def past_end() -> bool:
                row = await sql(pg_url, "SELECT now() > %s", end)
                return bool(row and row[0])

            await until(past_end, deadline=15, what="three leases later")
            seen = b_attempts
            await until(lambda: b_attempts >= seen + 5, what="B keeps trying")
            assert handled == {"a": 1}, "a slow but live handler's update was run twice"
            now = await sql(pg_url, "SELECT locked_until FROM update_inbox WHERE update_id = 1")
            assert now is not None
            assert now[0] > end - timedelta(seconds=lease)
            release.set()

            async def processed() -> bool:
                query = "SELECT processed_at IS NOT NULL FROM update_inbox WHERE update_id = 1"
                return await sql(pg_url, query) == (True,)

            await until(processed, what="processed")
        finally:
            release.set()
            await slow.stop()
            await rival.stop()
        assert handled == {"a": 1}


async def test_hung_claimer_loses_its_claim_when_the_lease_ends(pg_url: str) -> None:
    async with claimer(pg_url) as a, claimer(pg_url) as b:
        await a.store(1, upd(1), 1)
        assert await ids(a, lease=1.0) == [1]  # and then A never renews: it hangs
        first = await sql(pg_url, "SELECT locked_until FROM update_inbox WHERE update_id = 1")
        assert first is not None
        assert await ids(b) == []  # A's connection is alive: its claim holds for now
        taken: list[int] = []

        async def b_claims() -> bool:
            taken.extend(await ids(b, lease=3600))
            return bool(taken)

        await until(b_claims, deadline=10, what="B takes the lapsed claim")
        row = await sql(
            pg_url, "SELECT claimed_by, locked_until FROM update_inbox WHERE update_id = 1"
        )
        assert row is not None
        assert row[0] == b.claimer_key
        claimed_at = row[1] - timedelta(seconds=3600)  # B's claim statement's now()
        assert claimed_at >= first[0], "taken from a live claimer before its lease ended"
        assert await liveness_pid(pg_url, a) is not None  # A was alive all along


async def test_claims_stop_while_the_liveness_connection_cannot_be_reopened(
    pg_url: str,
) -> None:
    async with claimer(pg_url) as a:
        await a.store(1, upd(1), 1)
        await a.start()
        key = a.claimer_key
        a._live._conninfo = "postgresql://nobody@127.0.0.1:1/none"  # type: ignore[attr-defined]
        await kill_liveness(pg_url, a)
        with pytest.raises(InboxUnavailable):
            await a.claim(1, 60)
        with pytest.raises(InboxUnavailable):
            await a.renew(60)
        row = await sql(pg_url, "SELECT claimed_by FROM update_inbox WHERE update_id = 1")
        assert row == (None,), "claimed without a liveness lock"
        a._live._conninfo = pg_url  # type: ignore[attr-defined]

        async def claims() -> bool:
            with contextlib.suppress(InboxUnavailable):
                return await ids(a) == [1]
            return False

        await until(claims, deadline=5, what="claims resume")
        assert a.claimer_key == key
