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
from adapters.postgres.storage import PostgresStorage
from core.domain.catalog import MediaKind
from core.domain.errors import DomainError
from core.domain.jobs import HOLDING, TRANSITIONS, Job, JobStatus, ResultFile
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
        st.tuples(st.just("advance"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("capture"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("release"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("replay"), st.integers(min_value=0, max_value=20)),
    ),
    min_size=1,
    max_size=25,
)

# Every example shares one database; a user id of its own keeps them apart.
_users = itertools.count(10_000)

S = JobStatus
RESULT = (ResultFile(MediaKind.IMAGE, "https://cdn.test/result.png"),)
# The money-free steps towards a delivery; claiming a succeeded job for sending is the last.
STEPS = {
    S.QUEUED: S.SUBMITTING,
    S.SUBMITTING: S.SUBMITTED,
    S.SUBMITTED: S.RUNNING,
    S.RUNNING: S.SUCCEEDED,
}
RELEASE_FROM = frozenset(
    source for source, moves in TRANSITIONS.items() if moves.get(S.FAILED) is EntryKind.RELEASE
)
"""Every state a failure may end with the hold released, as the table allows."""


async def advance(storage: StoragePort, job_id: str, step: int) -> Job | None:
    """Move the job one legal step towards delivery; None once there is none to take."""
    current = await storage.get_job(job_id)
    assert current is not None
    if current.status is S.SUCCEEDED:
        return await storage.claim_delivery(job_id, at(step), stale_before=at(step))
    to = STEPS.get(current.status)
    if to is None:
        return None
    changes: dict[str, Any] = {}
    if to is S.SUBMITTED:
        changes["task_id"] = f"{job_id}:task"
    elif to is S.SUCCEEDED:
        changes["result"] = RESULT
    return await storage.transition(job_id, {current.status}, to, at(step), **changes)


@pytest.fixture
def runner_and_storage(pg_url: str) -> Iterator[tuple[asyncio.Runner, PostgresStorage, str]]:
    with asyncio.Runner() as runner:
        pool = runner.run(open_pool(pg_url, max_size=2))
        try:
            yield runner, PostgresStorage(pool), pg_url
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
        job_id = jobs[value % len(jobs)]
        if kind == "advance":
            moved = await advance(storage, job_id, step)
            return None if moved is None else moved.status
        if kind == "capture":
            # Captured only once delivered: walk the rest of the way, then deliver.
            while await advance(storage, job_id, step) is not None:
                pass
            settled = await storage.settle(
                job_id, {S.DELIVERING}, S.DELIVERED, EntryKind.CAPTURE, at(step)
            )
        else:
            settled = await storage.settle(
                job_id, RELEASE_FROM, S.FAILED, EntryKind.RELEASE, at(step)
            )
        return None if settled is None else settled.status
    except DomainError as exc:
        return type(exc)


async def check_invariants(storage: PostgresStorage, url: str, user_id: int) -> None:
    balance = await storage.balance(user_id)
    assert balance.available >= 0
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT COALESCE(sum(amount), 0), COALESCE(sum(held), 0)"
            " FROM ledger_entries WHERE user_id = %s",
            (user_id,),
        )
        assert await cur.fetchone() == (balance.total, balance.held)  # Σledger = cache
    holding = [j for j in await storage.user_jobs(user_id, limit=100) if j.status in HOLDING]
    assert balance.held == sum(j.price for j in holding)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=ops)
def test_random_money_commands_keep_the_ledger_balanced(
    runner_and_storage: tuple[asyncio.Runner, PostgresStorage, str],
    sequence: list[tuple[str, int]],
) -> None:
    runner, storage, url = runner_and_storage
    user_id = next(_users)
    model = InMemoryStorage()

    async def scenario() -> None:
        # Funds to start with, so that most confirms hold money and the jobs have somewhere to go.
        for store in (model, storage):
            await store.post(topup(f"{user_id}:seed", user_id, 1000))
        for step, op in enumerate(sequence):
            expected = await apply(model, op, user_id, step)
            assert await apply(storage, op, user_id, step) == expected, op
            assert await storage.balance(user_id) == await model.balance(user_id)
            await check_invariants(storage, url, user_id)

    runner.run(scenario())
