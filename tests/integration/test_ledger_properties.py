"""Random sequences of money commands on PostgreSQL, checked against the in-memory model."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory.storage import InMemoryStorage
from adapters.postgres.pool import open_pool
from adapters.postgres.storage import PsycopgStorage
from core.domain.errors import DomainError
from core.domain.jobs import RELEASABLE, JobStatus
from core.domain.ledger import EntryKind, LedgerEntry
from core.ports.storage import StoragePort
from tests.contract.factories import at, job, topup

pytestmark = pytest.mark.integration

amounts = st.integers(min_value=1, max_value=500)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("topup"), amounts),
        st.tuples(st.just("adjust"), st.integers(min_value=-300, max_value=300)),
        st.tuples(st.just("confirm"), st.integers(min_value=0, max_value=400)),
        st.tuples(st.just("capture"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("release"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("replay"), st.integers(min_value=0, max_value=20)),
    ),
    min_size=1,
    max_size=25,
)

# Every example shares one database; a user id of its own keeps them apart.
_users = itertools.count(10_000)


@pytest.fixture
def runner_and_storage(pg_url: str) -> Iterator[tuple[asyncio.Runner, PsycopgStorage, str]]:
    with asyncio.Runner() as runner:
        pool = runner.run(open_pool(pg_url, max_size=2))
        try:
            yield runner, PsycopgStorage(pool), pg_url
        finally:
            runner.run(pool.close())


async def apply(storage: StoragePort, op: tuple[str, int], user_id: int, step: int) -> Any:
    """Run one command; returns its outcome (result or exception type) for comparison."""
    kind, value = op
    jobs = [j.id for j in await storage.user_jobs(user_id, limit=100)]
    try:
        if kind == "topup":
            return await storage.post(topup(f"{user_id}:pay:{step}", user_id, value))
        if kind == "adjust":
            entry = LedgerEntry(f"{user_id}:adj:{step}", user_id, EntryKind.ADJUST, amount=value)
            return await storage.post(entry)
        if kind == "confirm":
            stored, new = await storage.create_job_with_hold(
                job(f"{user_id}:j{step}", user_id=user_id, price=value, created_at=at(step))
            )
            return stored.id, new
        if kind == "replay":
            entries = await storage.entries(user_id, limit=1000)
            return None if not entries else await storage.post(entries[value % len(entries)])
        if not jobs:
            return None
        resolution = EntryKind.CAPTURE if kind == "capture" else EntryKind.RELEASE
        to = JobStatus.SUCCEEDED if kind == "capture" else JobStatus.FAILED
        settled = await storage.settle(jobs[value % len(jobs)], RELEASABLE, to, resolution, at(0))
        return None if settled is None else settled.status
    except DomainError as exc:
        return type(exc)


async def check_invariants(storage: PsycopgStorage, url: str, user_id: int) -> None:
    balance = await storage.balance(user_id)
    assert balance.available >= 0
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT COALESCE(sum(amount), 0), COALESCE(sum(held), 0)"
            " FROM ledger_entries WHERE user_id = %s",
            (user_id,),
        )
        assert await cur.fetchone() == (balance.total, balance.held)  # Σledger = cache
    holding = [j for j in await storage.user_jobs(user_id, limit=100) if j.status.holds_money]
    assert balance.held == sum(j.price for j in holding)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=ops)
def test_random_money_commands_keep_the_ledger_balanced(
    runner_and_storage: tuple[asyncio.Runner, PsycopgStorage, str],
    sequence: list[tuple[str, int]],
) -> None:
    runner, storage, url = runner_and_storage
    user_id = next(_users)
    model = InMemoryStorage()

    async def scenario() -> None:
        for step, op in enumerate(sequence):
            expected = await apply(model, op, user_id, step)
            assert await apply(storage, op, user_id, step) == expected, op
            assert await storage.balance(user_id) == await model.balance(user_id)
            await check_invariants(storage, url, user_id)

    runner.run(scenario())
