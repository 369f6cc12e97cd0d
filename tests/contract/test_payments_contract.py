"""The PaymentsPort contract, run against InMemoryPayments and PostgresPayments.

Each adapter credits the ledger of the storage beside it, so the suite reads the money back
through that storage, and asks each adapter's own records whether a payment was refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import attrs
import pytest

from adapters.memory.payments import InMemoryPayments
from adapters.memory.storage import InMemoryStorage
from adapters.postgres.payments import PostgresPayments
from adapters.postgres.pool import open_pool
from adapters.postgres.storage import PostgresStorage
from core.domain.errors import IdempotencyConflict
from core.domain.ledger import Balance, EntryKind, LedgerEntry
from core.ports.payments import (
    STARS_CURRENCY,
    CreditOutcome,
    PaymentsPort,
    Purchase,
    PurchaseStatus,
    StarsPayment,
    stars_key,
)
from core.ports.storage import StoragePort
from tests.contract.factories import T0, at, user

BUYER = 30
OTHER = 31
USERS = (BUYER, OTHER)
STARS = 100
AMOUNT = 18_000


@attrs.frozen
class World:
    payments: PaymentsPort
    storage: StoragePort
    refused: Callable[[str], Awaitable[bool | None]]
    """Whether a charge is recorded as refused (None: not recorded)."""

    async def money(self) -> dict[int, tuple[Balance, int]]:
        """Every test user's balance and number of ledger entries."""
        return {
            u: (await self.storage.balance(u), len(await self.storage.entries(u, 100)))
            for u in USERS
        }

    async def topups(self, user_id: int) -> list[LedgerEntry]:
        return [e for e in await self.storage.entries(user_id, 100) if e.kind is EntryKind.TOPUP]


@pytest.fixture
async def world(storage_url: str | None) -> AsyncIterator[World]:
    if storage_url is None:
        memory = InMemoryStorage()
        payments = InMemoryPayments(memory)

        async def refused_in_memory(charge_id: str) -> bool | None:
            return payments.refused(charge_id)

        made = World(payments, memory, refused_in_memory)
        for u in USERS:
            await made.storage.upsert_user(user(u))
        yield made
        return
    pool = await open_pool(storage_url, max_size=8)

    async def refused_in_table(charge_id: str) -> bool | None:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT refused FROM stars_payments WHERE charge_id = %s", (charge_id,)
            )
            row = await cur.fetchone()
        return None if row is None else bool(row["refused"])

    try:
        made = World(PostgresPayments(pool), PostgresStorage(pool), refused_in_table)
        for u in USERS:
            await made.storage.upsert_user(user(u))
        yield made
    finally:
        await pool.close()


def purchase(
    purchase_id: str = "p-1", user_id: int = BUYER, stars: int = STARS, amount: int = AMOUNT
) -> Purchase:
    return Purchase(purchase_id, user_id, stars, amount, PurchaseStatus.OPEN, T0)


def payment(
    charge_id: str = "ch-1",
    purchase_id: str = "p-1",
    *,
    user_id: int = BUYER,
    stars: int = STARS,
    currency: str = STARS_CURRENCY,
    seconds: float = 60,
) -> StarsPayment:
    return StarsPayment(
        charge_id, purchase_id, user_id, stars, currency, at(seconds), provider_charge_id=""
    )


# ------------------------------------------------------------------------------ purchases


async def test_a_purchase_is_stored_open_and_read_back(world: World) -> None:
    assert await world.payments.get_purchase("p-1") is None
    await world.payments.create_purchase(purchase())
    assert await world.payments.get_purchase("p-1") == purchase()
    await world.payments.set_invoice_message("p-1", 4242)
    stored = await world.payments.get_purchase("p-1")
    assert stored == attrs.evolve(purchase(), invoice_message_id=4242)
    assert await world.payments.get_purchase("p-2") is None


async def test_a_purchase_id_is_never_reused(world: World) -> None:
    await world.payments.create_purchase(purchase())
    with pytest.raises(ValueError, match="exists"):
        await world.payments.create_purchase(purchase(amount=1))
    assert await world.payments.get_purchase("p-1") == purchase()


# ------------------------------------------------------------------------------- credits


async def test_a_payment_credits_its_purchase_once(world: World) -> None:
    await world.payments.create_purchase(purchase())
    outcome, paid = await world.payments.record_payment(payment())
    assert outcome is CreditOutcome.CREDITED
    assert paid == attrs.evolve(purchase(), status=PurchaseStatus.PAID)
    assert await world.payments.get_purchase("p-1") == paid
    assert await world.refused("ch-1") is False
    [entry] = await world.topups(BUYER)
    assert (entry.key, entry.amount, entry.held) == (stars_key("ch-1"), AMOUNT, 0)
    assert entry.reason == "Stars purchase p-1"
    assert await world.storage.balance(BUYER) == Balance(AMOUNT, 0)

    before = await world.money()
    again, shown = await world.payments.record_payment(payment())
    assert (again, shown) == (CreditOutcome.DUPLICATE, paid)
    assert await world.money() == before
    assert await world.payments.payments_of(BUYER) == [payment()]


async def test_a_duplicate_is_judged_by_its_first_delivery(world: World) -> None:
    # The same charge arriving with another payload does not move the money elsewhere.
    await world.payments.create_purchase(purchase())
    await world.payments.create_purchase(purchase("p-2"))
    assert (await world.payments.record_payment(payment()))[0] is CreditOutcome.CREDITED
    outcome, shown = await world.payments.record_payment(payment(purchase_id="p-2"))
    assert outcome is CreditOutcome.DUPLICATE
    assert shown is not None
    assert shown.id == "p-1"
    assert (await world.payments.get_purchase("p-2")) == purchase("p-2")
    assert len(await world.topups(BUYER)) == 1


@pytest.mark.parametrize(
    ("case", "paid"),
    [
        ("unknown purchase", payment(purchase_id="nope")),
        ("another user's purchase", payment(user_id=OTHER)),
        ("fewer Stars", payment(stars=STARS - 1)),
        ("more Stars", payment(stars=STARS + 1)),
        ("another currency", payment(currency="USD")),
    ],
)
async def test_a_payment_that_matches_no_open_purchase_is_recorded_refused(
    world: World, case: str, paid: StarsPayment
) -> None:
    await world.payments.create_purchase(purchase())
    before = await world.money()
    outcome, shown = await world.payments.record_payment(paid)
    assert outcome is CreditOutcome.REFUSED, case
    # The payer sees their own purchase, never someone else's.
    assert shown == (purchase() if paid.user_id == BUYER and paid.purchase_id == "p-1" else None)
    assert await world.refused("ch-1") is True
    assert await world.payments.payments_of(paid.user_id) == [paid]
    assert await world.money() == before
    assert await world.payments.get_purchase("p-1") == purchase()
    # Refused once, refused for good: the same charge delivered again is a duplicate.
    assert (await world.payments.record_payment(paid))[0] is CreditOutcome.DUPLICATE
    assert await world.money() == before


async def test_the_purchase_stays_payable_after_a_refused_payment(world: World) -> None:
    await world.payments.create_purchase(purchase())
    assert (await world.payments.record_payment(payment("bad", stars=1)))[0] is (
        CreditOutcome.REFUSED
    )
    assert (await world.payments.record_payment(payment("good")))[0] is CreditOutcome.CREDITED
    assert await world.storage.balance(BUYER) == Balance(AMOUNT, 0)
    assert (await world.refused("bad"), await world.refused("good")) == (True, False)


async def test_a_second_charge_for_a_paid_purchase_is_refused(world: World) -> None:
    await world.payments.create_purchase(purchase())
    first, paid = await world.payments.record_payment(payment("ch-1"))
    assert first is CreditOutcome.CREDITED
    before = await world.money()
    second, shown = await world.payments.record_payment(payment("ch-2", seconds=90))
    assert (second, shown) == (CreditOutcome.REFUSED, paid)
    assert await world.refused("ch-2") is True
    assert await world.money() == before
    assert await world.payments.payments_of(BUYER) == [
        payment("ch-2", seconds=90),
        payment("ch-1"),
    ]


async def test_concurrent_deliveries_of_one_charge_credit_once(world: World) -> None:
    await world.payments.create_purchase(purchase())
    results = await asyncio.gather(*(world.payments.record_payment(payment()) for _ in range(5)))
    outcomes = sorted(outcome.value for outcome, _ in results)
    assert outcomes == ["credited"] + ["duplicate"] * 4
    assert [e.key for e in await world.topups(BUYER)] == [stars_key("ch-1")]
    assert await world.storage.balance(BUYER) == Balance(AMOUNT, 0)


async def test_concurrent_charges_for_one_purchase_credit_once(world: World) -> None:
    await world.payments.create_purchase(purchase())
    charges = [payment(f"ch-{i}") for i in range(5)]
    results = await asyncio.gather(*(world.payments.record_payment(c) for c in charges))
    outcomes = sorted(outcome.value for outcome, _ in results)
    assert outcomes == ["credited"] + ["refused"] * 4
    assert await world.storage.balance(BUYER) == Balance(AMOUNT, 0)
    refused = [await world.refused(c.charge_id) for c in charges]
    assert sorted(refused, key=bool) == [False, True, True, True, True]


async def test_a_clashing_ledger_key_leaves_no_payment_and_no_settlement(world: World) -> None:
    # The credit's key was used for another command: the payment must go with it.
    clash = LedgerEntry(stars_key("ch-1"), BUYER, EntryKind.TOPUP, amount=5, reason="x")
    await world.storage.post(clash)
    await world.payments.create_purchase(purchase())
    before = await world.money()
    with pytest.raises(IdempotencyConflict):
        await world.payments.record_payment(payment())
    assert await world.refused("ch-1") is None
    assert await world.payments.get_purchase("p-1") == purchase()
    assert await world.money() == before


async def test_payments_are_listed_per_user_newest_first(world: World) -> None:
    for i in range(3):
        await world.payments.create_purchase(purchase(f"p-{i}"))
    await world.payments.create_purchase(purchase("q", user_id=OTHER))
    for i, seconds in enumerate((10, 30, 20)):
        await world.payments.record_payment(payment(f"ch-{i}", f"p-{i}", seconds=seconds))
    await world.payments.record_payment(payment("other", "q", user_id=OTHER))
    listed = [p.charge_id for p in await world.payments.payments_of(BUYER)]
    assert listed == ["ch-1", "ch-2", "ch-0"]
    assert [p.charge_id for p in await world.payments.payments_of(BUYER, limit=2)] == [
        "ch-1",
        "ch-2",
    ]
    assert [p.charge_id for p in await world.payments.payments_of(OTHER)] == ["other"]


async def test_the_ledger_invariant_holds_after_a_mix_of_payments(world: World) -> None:
    amounts = {"p-a": (50, 9_000), "p-b": (250, 45_000), "p-c": (1, 180)}
    for pid, (stars, amount) in amounts.items():
        await world.payments.create_purchase(purchase(pid, stars=stars, amount=amount))
    deliveries = [
        payment("a", "p-a", stars=50),
        payment("a", "p-a", stars=50),  # delivered twice
        payment("b", "p-b", stars=250),
        payment("b2", "p-b", stars=250),  # a second charge of a paid invoice
        payment("c", "p-c", stars=2),  # the wrong amount
        payment("x", "missing", stars=1),
    ]
    for d in deliveries:
        await world.payments.record_payment(d)
    entries = await world.storage.entries(BUYER, 100)
    balance = await world.storage.balance(BUYER)
    assert balance.total == sum(e.amount for e in entries) == 9_000 + 45_000
    assert balance.held == sum(e.held for e in entries) == 0
    assert sorted(e.key for e in entries) == [stars_key("a"), stars_key("b")]
    statuses = {pid: (await world.payments.get_purchase(pid)) for pid in amounts}
    assert {pid: p.status for pid, p in statuses.items() if p} == {
        "p-a": PurchaseStatus.PAID,
        "p-b": PurchaseStatus.PAID,
        "p-c": PurchaseStatus.OPEN,
    }
