"""FreeQuotaPort contract, with the job creation and settlement that take and give back a free
use (run against every StoragePort implementation).

The money side of a free job: its price is 0, so its hold and its capture or release are
zero-amount entries, and the user's balance is the same whatever the job's outcome."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from core.domain.catalog import MediaKind
from core.domain.errors import IdempotencyConflict, InsufficientFunds
from core.domain.jobs import FailureKind, JobStatus, ResultFile
from core.domain.ledger import Balance, EntryKind
from core.ports.free_quota import FreeClaim, FreeUse
from core.ports.storage import StoragePort
from tests.contract.factories import T0, at, job, topup

S = JobStatus
DAY = T0.date()
TODAY = FreeClaim(DAY, quota=2)


async def funded(storage: StoragePort, amount: int = 1000, user_id: int = 1) -> None:
    await storage.post(topup(f"seed:{user_id}", user_id, amount))


async def money_of(storage: StoragePort, user_id: int = 1) -> tuple[Balance, int, int]:
    """(balance, Σamount, Σheld) from the entries themselves."""
    entries = await storage.entries(user_id, limit=1000)
    return (
        await storage.balance(user_id),
        sum(e.amount for e in entries),
        sum(e.held for e in entries),
    )


async def deliver(storage: StoragePort, job_id: str) -> None:
    files = (ResultFile(MediaKind.IMAGE, "https://x/1.png"),)
    await storage.transition(job_id, {S.QUEUED}, S.SUBMITTING, at(1))
    await storage.transition(job_id, {S.SUBMITTING}, S.SUBMITTED, at(2), task_id=f"t-{job_id}")
    await storage.transition(job_id, {S.SUBMITTED}, S.SUCCEEDED, at(3), result=files)
    await storage.claim_delivery(job_id, at(4), stale_before=at(0))
    settled = await storage.settle(job_id, {S.DELIVERING}, S.DELIVERED, EntryKind.CAPTURE, at(5))
    assert settled is not None


async def fail(storage: StoragePort, job_id: str, seconds: float = 5) -> None:
    settled = await storage.settle(
        job_id,
        {S.QUEUED},
        S.FAILED,
        EntryKind.RELEASE,
        at(seconds),
        failure=FailureKind.PROVIDER_ERROR,
    )
    assert settled is not None


async def test_a_free_confirmation_stores_the_job_at_price_0_and_takes_one_use(
    storage: StoragePort,
) -> None:
    await funded(storage)
    created, new = await storage.create_job_with_hold(job("j1", price=300), TODAY)
    assert new is True
    assert created == job("j1", price=0)
    assert await storage.get_job("j1") == created
    assert await storage.free_use("j1") == FreeUse("j1", 1, DAY, T0)
    assert await storage.free_used(1, DAY) == 1
    # No money moves: the hold is a zero-amount entry.
    assert await money_of(storage) == (Balance(1000, 0), 1000, 0)
    [hold, _seed] = await storage.entries(1)
    assert (hold.key, hold.kind, hold.amount, hold.held) == ("hold:j1", EntryKind.HOLD, 0, 0)


async def test_a_free_job_needs_no_balance_at_all(storage: StoragePort) -> None:
    created, _ = await storage.create_job_with_hold(job("j1", price=300), TODAY)
    assert created.price == 0
    assert await storage.balance(1) == Balance(0, 0)


async def test_a_replayed_free_confirmation_takes_nothing_more(storage: StoragePort) -> None:
    await funded(storage)
    first, _ = await storage.create_job_with_hold(job("j1", price=300), TODAY)
    again, new = await storage.create_job_with_hold(
        job("j2", price=300, confirm_key="confirm:j1"), TODAY
    )
    assert (again, new) == (first, False)
    assert await storage.free_used(1, DAY) == 1
    assert await storage.free_use("j2") is None
    assert await storage.get_job("j2") is None
    assert await money_of(storage) == (Balance(1000, 0), 1000, 0)


async def test_a_job_id_reused_by_another_confirmation_takes_no_use(
    storage: StoragePort,
) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300), TODAY)
    with pytest.raises(IdempotencyConflict):
        await storage.create_job_with_hold(job("j1", price=300, confirm_key="other"), TODAY)
    assert await storage.free_used(1, DAY) == 1


async def test_past_the_quota_the_job_is_charged_its_price(storage: StoragePort) -> None:
    await funded(storage)
    for n in (1, 2):
        created, _ = await storage.create_job_with_hold(job(f"j{n}", price=300), TODAY)
        assert created.price == 0
    paid, _ = await storage.create_job_with_hold(job("j3", price=300), TODAY)
    assert paid.price == 300
    assert await storage.free_use("j3") is None
    assert await storage.free_used(1, DAY) == 2
    assert await storage.balance(1) == Balance(1000, 300)


async def test_past_the_quota_an_unaffordable_job_stores_nothing(storage: StoragePort) -> None:
    await funded(storage, 250)
    await storage.create_job_with_hold(job("j1", price=300), FreeClaim(DAY, 1))
    with pytest.raises(InsufficientFunds):
        await storage.create_job_with_hold(job("j2", price=300), FreeClaim(DAY, 1))
    assert await storage.get_job("j2") is None
    assert await storage.free_use("j2") is None
    assert await storage.free_used(1, DAY) == 1
    assert await money_of(storage) == (Balance(250, 0), 250, 0)


async def test_a_zero_quota_or_no_claim_charges_the_price(storage: StoragePort) -> None:
    await funded(storage)
    zero, _ = await storage.create_job_with_hold(job("j1", price=300), FreeClaim(DAY, 0))
    plain, _ = await storage.create_job_with_hold(job("j2", price=200))
    assert (zero.price, plain.price) == (300, 200)
    assert await storage.free_used(1, DAY) == 0
    assert await storage.free_use("j1") is None
    assert await storage.balance(1) == Balance(1000, 500)


async def test_a_released_free_job_gives_its_use_back_and_moves_no_money(
    storage: StoragePort,
) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300), FreeClaim(DAY, 1))
    await fail(storage, "j1")
    assert await storage.free_use("j1") == FreeUse("j1", 1, DAY, T0, returned_at=at(5))
    assert await storage.free_used(1, DAY) == 0
    assert await money_of(storage) == (Balance(1000, 0), 1000, 0)
    kinds = [(e.kind, e.amount, e.held) for e in await storage.entries(1)]
    assert kinds[:2] == [(EntryKind.RELEASE, 0, 0), (EntryKind.HOLD, 0, 0)]
    # A replayed release changes nothing: the job has settled, the first return time stays.
    again = await storage.settle("j1", {S.QUEUED}, S.FAILED, EntryKind.RELEASE, at(9))
    assert again is None
    assert (await storage.free_use("j1")).returned_at == at(5)  # type: ignore[union-attr]
    # The use is free again: the next confirmation of the day is free.
    created, _ = await storage.create_job_with_hold(job("j2", price=300), FreeClaim(DAY, 1))
    assert created.price == 0
    assert await storage.free_used(1, DAY) == 1


async def test_a_delivered_free_job_keeps_its_use_and_moves_no_money(
    storage: StoragePort,
) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300), FreeClaim(DAY, 1))
    await deliver(storage, "j1")
    assert await storage.free_use("j1") == FreeUse("j1", 1, DAY, T0)
    assert await storage.free_used(1, DAY) == 1
    assert await money_of(storage) == (Balance(1000, 0), 1000, 0)
    paid, _ = await storage.create_job_with_hold(job("j2", price=300), FreeClaim(DAY, 1))
    assert paid.price == 300


async def test_a_released_paid_job_touches_no_free_use(storage: StoragePort) -> None:
    await funded(storage)
    await storage.create_job_with_hold(job("j1", price=300), FreeClaim(DAY, 1))
    await storage.create_job_with_hold(job("j2", price=300), FreeClaim(DAY, 1))
    await fail(storage, "j2")
    assert await storage.free_use("j2") is None
    assert await storage.free_use("j1") == FreeUse("j1", 1, DAY, T0)
    assert await storage.free_used(1, DAY) == 1
    assert await storage.balance(1) == Balance(1000, 0)


async def test_uses_count_per_user_and_per_day(storage: StoragePort) -> None:
    await storage.create_job_with_hold(job("a1", price=300), FreeClaim(DAY, 1))
    other, _ = await storage.create_job_with_hold(
        job("b1", user_id=2, price=300), FreeClaim(DAY, 1)
    )
    tomorrow = DAY + timedelta(days=1)
    later, _ = await storage.create_job_with_hold(
        job("a2", price=300, created_at=at(86_400)), FreeClaim(tomorrow, 1)
    )
    assert (other.price, later.price) == (0, 0)
    assert [await storage.free_used(1, d) for d in (DAY, tomorrow)] == [1, 1]
    assert await storage.free_used(2, DAY) == 1
    assert await storage.free_used(2, tomorrow) == 0
    assert await storage.free_used(3, DAY) == 0


async def test_a_use_given_back_on_a_later_day_counts_for_its_own_day(
    storage: StoragePort,
) -> None:
    await storage.create_job_with_hold(job("j1", price=300), FreeClaim(DAY, 1))
    await fail(storage, "j1", seconds=86_400)
    assert await storage.free_used(1, DAY) == 0
    assert await storage.free_used(1, DAY + timedelta(days=1)) == 0


async def test_concurrent_confirmations_take_at_most_the_quota(storage: StoragePort) -> None:
    await funded(storage, 10_000)
    results = await asyncio.gather(
        *(
            storage.create_job_with_hold(job(f"j{n}", price=300), FreeClaim(DAY, 3))
            for n in range(10)
        )
    )
    prices = sorted(created.price for created, _ in results)
    assert prices == [0] * 3 + [300] * 7
    assert await storage.free_used(1, DAY) == 3
    assert await storage.balance(1) == Balance(10_000, 7 * 300)


async def test_concurrent_replays_of_one_free_confirmation_take_one_use(
    storage: StoragePort,
) -> None:
    results = await asyncio.gather(
        *(
            storage.create_job_with_hold(
                job(f"j{n}", price=300, confirm_key="tap:1"), FreeClaim(DAY, 3)
            )
            for n in range(6)
        )
    )
    assert sum(new for _, new in results) == 1
    assert len({created.id for created, _ in results}) == 1
    assert await storage.free_used(1, DAY) == 1


def test_a_negative_quota_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        FreeClaim(date(2026, 1, 1), -1)
