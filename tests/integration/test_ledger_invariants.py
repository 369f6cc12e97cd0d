"""Money invariants on PostgreSQL: conservation, no overdraft, races, replays."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from adapters.postgres.pool import open_pool
from adapters.postgres.storage import PostgresStorage
from core.domain.catalog import MediaKind
from core.domain.errors import IdempotencyConflict, InsufficientFunds
from core.domain.jobs import JobStatus, ResultFile
from core.domain.ledger import Balance, EntryKind, LedgerEntry, capture, hold
from core.ports.storage import Posted
from tests.contract.factories import at, job, topup

pytestmark = pytest.mark.integration


async def reconcile(url: str, user_id: int) -> tuple[int, int, int, int]:
    """(Σamount, Σheld) from the ledger and (total, held) from the cached balance row."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT COALESCE(sum(amount), 0)::bigint, COALESCE(sum(held), 0)::bigint,"
            " (SELECT total FROM balances WHERE user_id = %s),"
            " (SELECT held FROM balances WHERE user_id = %s)"
            " FROM ledger_entries WHERE user_id = %s",
            (user_id, user_id, user_id),
        )
        row = await cur.fetchone()
    assert row is not None
    return row  # type: ignore[return-value]


async def test_n_concurrent_confirms_succeed_exactly_floor_balance_over_price(
    pg_url: str,
) -> None:
    balance, price, attempts = 1000, 150, 12
    pools = [await open_pool(pg_url, min_size=1, max_size=1) for _ in range(attempts)]
    try:
        await PostgresStorage(pools[0]).post(topup("seed", 1, balance))
        results = await asyncio.gather(
            *(
                PostgresStorage(pool).create_job_with_hold(job(f"j{n}", price=price))
                for n, pool in enumerate(pools)
            ),
            return_exceptions=True,
        )
    finally:
        for pool in pools:
            await pool.close()
    created = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(created) == balance // price
    assert len(refused) == attempts - balance // price
    total, held, cached_total, cached_held = await reconcile(pg_url, 1)
    assert (total, held) == (balance, price * (balance // price))
    assert (cached_total, cached_held) == (total, held)


async def test_concurrent_replays_of_one_confirm_create_one_job_and_one_hold(
    pg_url: str,
) -> None:
    pools = [await open_pool(pg_url, min_size=1, max_size=1) for _ in range(8)]
    try:
        await PostgresStorage(pools[0]).post(topup("seed", 1, 1000))
        results = await asyncio.gather(
            *(
                PostgresStorage(pool).create_job_with_hold(
                    job(f"j{n}", price=100, confirm_key="tap:1")
                )
                for n, pool in enumerate(pools)
            )
        )
        storage = PostgresStorage(pools[0])
        assert sum(new for _, new in results) == 1
        assert len({stored.id for stored, _ in results}) == 1
        assert await storage.balance(1) == Balance(1000, 100)
    finally:
        for pool in pools:
            await pool.close()


async def test_concurrent_posts_of_one_key_apply_once(pg_storage: PostgresStorage) -> None:
    results = await asyncio.gather(*(pg_storage.post(topup("pay:1", 1, 70)) for _ in range(10)))
    assert sorted(r.value for r in results) == ["applied"] + ["duplicate"] * 9
    assert await pg_storage.balance(1) == Balance(70, 0)


MONEY_COMMANDS = {
    "topup": topup("pay:1", 1, 500),
    "adjust": LedgerEntry("adj:1", 1, EntryKind.ADJUST, amount=-50, reason="fix"),
    "hold": hold("jx", 1, 120),
    "capture": capture("jy", 1, 120),
    "refund": LedgerEntry("ref:1", 1, EntryKind.REFUND, amount=30, reason="charge 1"),
}


@pytest.mark.parametrize("name", list(MONEY_COMMANDS))
async def test_replaying_any_money_command_changes_nothing(
    pg_storage: PostgresStorage, pg_url: str, name: str
) -> None:
    await pg_storage.post(topup("seed", 1, 1000))
    await pg_storage.post(hold("jy", 1, 120))  # what the capture resolves
    command = MONEY_COMMANDS[name]
    assert await pg_storage.post(command) is Posted.APPLIED
    before = (await pg_storage.balance(1), await pg_storage.entries(1, limit=100))
    assert await pg_storage.post(command) is Posted.DUPLICATE
    assert (await pg_storage.balance(1), await pg_storage.entries(1, limit=100)) == before
    with pytest.raises(IdempotencyConflict):
        await pg_storage.post(LedgerEntry(command.key, 1, command.kind, amount=1, held=1))
    assert (await pg_storage.balance(1), await pg_storage.entries(1, limit=100)) == before
    total, held, cached_total, cached_held = await reconcile(pg_url, 1)
    assert (cached_total, cached_held) == (total, held) == (before[0].total, before[0].held)


async def test_replaying_confirm_and_settle_moves_money_once(pg_storage: PostgresStorage) -> None:
    await pg_storage.post(topup("seed", 1, 1000))
    for _ in range(2):
        await pg_storage.create_job_with_hold(job("j1", price=300))
    assert await pg_storage.balance(1) == Balance(1000, 300)
    # The legal way to a capture: claimed, submitted, produced, claimed for delivery.
    s = JobStatus
    assert await pg_storage.transition("j1", {s.QUEUED}, s.SUBMITTING, at(1))
    assert await pg_storage.transition("j1", {s.SUBMITTING}, s.SUBMITTED, at(2), task_id="t-j1")
    result = (ResultFile(MediaKind.IMAGE, "https://cdn.test/j1.png"),)
    assert await pg_storage.transition("j1", {s.SUBMITTED}, s.SUCCEEDED, at(3), result=result)
    assert await pg_storage.claim_delivery("j1", at(4), stale_before=at(4))
    assert await pg_storage.balance(1) == Balance(1000, 300)  # a result alone is still held
    d = {s.DELIVERING}
    first = await pg_storage.settle("j1", d, s.DELIVERED, EntryKind.CAPTURE, at(5))
    again = await pg_storage.settle("j1", d, s.DELIVERED, EntryKind.CAPTURE, at(6))
    assert first is not None
    assert first.status is s.DELIVERED
    assert again is None
    replayed, created = await pg_storage.create_job_with_hold(job("j1", price=300))
    assert (replayed.status, created) == (s.DELIVERED, False)
    assert await pg_storage.balance(1) == Balance(700, 0)
    kinds = [e.kind for e in await pg_storage.entries(1, limit=100)]
    assert kinds == [EntryKind.CAPTURE, EntryKind.HOLD, EntryKind.TOPUP]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = amount + 1",
        "DELETE FROM ledger_entries",
        "TRUNCATE ledger_entries",
    ],
)
async def test_the_ledger_is_append_only(
    pg_storage: PostgresStorage, pg_url: str, statement: str
) -> None:
    await pg_storage.post(topup("pay:1", 1, 500))
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            await conn.execute(statement)
    assert await pg_storage.entries(1) == [topup("pay:1", 1, 500)]


async def test_the_database_refuses_an_overdraft_even_without_the_adapter(
    pg_storage: PostgresStorage, pg_url: str
) -> None:
    await pg_storage.post(topup("pay:1", 1, 100))
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            await conn.execute(
                "INSERT INTO ledger_entries (key, user_id, kind, held) VALUES (%s, %s, %s, %s)",
                ("hold:raw", 1, "hold", 101),
            )
    assert await pg_storage.balance(1) == Balance(100, 0)
