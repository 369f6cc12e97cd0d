"""The RefundsPort contract, run against InMemoryPayments and PostgresPayments.

A refund is read back two ways: through the port (its record) and through the storage beside
the adapter (the ledger entry that took the credit back). "Nothing written" is checked on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import attrs
import pytest

from adapters.memory.payments import InMemoryPayments
from adapters.memory.storage import InMemoryStorage
from adapters.postgres.payments import PostgresPayments
from adapters.postgres.pool import open_pool
from adapters.postgres.storage import PostgresStorage
from core.domain.ledger import Balance, EntryKind, LedgerEntry
from core.ports.payments import (
    STARS_CURRENCY,
    CreditOutcome,
    PaymentsPort,
    Purchase,
    PurchaseStatus,
    StarsPayment,
)
from core.ports.refunds import RefundOutcome, RefundsPort, StarsRefund, refund_key
from core.ports.storage import StoragePort
from tests.contract.factories import T0, at, user

BUYER = 40
OTHER = 41
USERS = (BUYER, OTHER)
OPERATOR = 900
STARS = 100
AMOUNT = 18_000


@attrs.frozen
class World:
    payments: PaymentsPort
    refunds: RefundsPort
    storage: StoragePort

    async def money(self) -> dict[int, tuple[Balance, list[LedgerEntry]]]:
        """Every test user's balance and ledger entries."""
        return {
            u: (await self.storage.balance(u), await self.storage.entries(u, 100)) for u in USERS
        }

    async def refund_entries(self, user_id: int) -> list[LedgerEntry]:
        entries = await self.storage.entries(user_id, 100)
        return [e for e in entries if e.kind is EntryKind.REFUND]

    async def paid(
        self, charge_id: str = "ch-1", user_id: int = BUYER, amount: int = AMOUNT
    ) -> None:
        """A purchase ``p-<charge_id>`` credited by the payment ``charge_id``."""
        pid = f"p-{charge_id}"
        await self.payments.create_purchase(
            Purchase(pid, user_id, STARS, amount, PurchaseStatus.OPEN, T0)
        )
        outcome, _ = await self.payments.record_payment(payment(charge_id, pid, user_id=user_id))
        assert outcome is CreditOutcome.CREDITED


@pytest.fixture
async def world(storage_url: str | None) -> AsyncIterator[World]:
    if storage_url is None:
        memory = InMemoryStorage()
        payments = InMemoryPayments(memory)
        made = World(payments, payments, memory)
        for u in USERS:
            await made.storage.upsert_user(user(u))
        yield made
        return
    pool = await open_pool(storage_url, max_size=8)
    try:
        postgres = PostgresPayments(pool)
        made = World(postgres, postgres, PostgresStorage(pool))
        for u in USERS:
            await made.storage.upsert_user(user(u))
        yield made
    finally:
        await pool.close()


def payment(
    charge_id: str, purchase_id: str, *, user_id: int = BUYER, stars: int = STARS
) -> StarsPayment:
    return StarsPayment(charge_id, purchase_id, user_id, stars, STARS_CURRENCY, at(60))


def bonus(key: str, user_id: int, amount: int) -> LedgerEntry:
    return LedgerEntry(key, user_id, EntryKind.BONUS, amount=amount, reason="test")


def recorded(charge_id: str = "ch-1", seconds: float = 120) -> StarsRefund:
    """The refund record ``begin_refund(charge_id, OPERATOR, at(seconds))`` writes."""
    return StarsRefund(charge_id, BUYER, STARS, AMOUNT, OPERATOR, at(seconds))


# ------------------------------------------------------------------------------- begin


async def test_a_refund_takes_the_credit_back_once(world: World) -> None:
    await world.storage.post(bonus("gift", BUYER, 500))
    await world.storage.post(bonus("other-gift", OTHER, 700))
    before_credit = await world.storage.balance(BUYER)
    await world.paid()
    assert await world.storage.balance(BUYER) == Balance(500 + AMOUNT, 0)

    outcome, refund = await world.refunds.begin_refund("ch-1", OPERATOR, at(120))
    assert (outcome, refund) == (RefundOutcome.STARTED, recorded())
    assert refund is not None
    assert not refund.confirmed
    assert await world.storage.balance(BUYER) == before_credit
    [entry] = await world.refund_entries(BUYER)
    assert (entry.key, entry.amount, entry.held) == (refund_key("ch-1"), -AMOUNT, 0)
    assert entry.reason == "Stars refund ch-1"
    assert await world.storage.balance(OTHER) == Balance(700, 0)

    before = await world.money()
    again, same = await world.refunds.begin_refund("ch-1", OPERATOR + 1, at(500))
    assert (again, same) == (RefundOutcome.ALREADY, recorded())
    assert await world.money() == before
    assert await world.refunds.pending_refunds() == [recorded()]


async def test_a_partly_spent_credit_is_not_refunded_and_nothing_is_written(
    world: World,
) -> None:
    await world.paid()  # the balance is exactly the credit
    await world.storage.post(
        LedgerEntry("adj", BUYER, EntryKind.ADJUST, amount=-1, reason="spent one")
    )
    before = await world.money()
    assert await world.refunds.begin_refund("ch-1", OPERATOR, at(120)) == (
        RefundOutcome.SPENT,
        None,
    )
    assert await world.money() == before
    assert await world.refund_entries(BUYER) == []
    assert await world.refunds.pending_refunds() == []
    assert await world.refunds.confirm_refund("ch-1", at(130)) is None  # no record to confirm

    # Refused, not remembered as refused: once the balance covers it again, it goes through.
    await world.storage.post(bonus("back", BUYER, 1))
    outcome, refund = await world.refunds.begin_refund("ch-1", OPERATOR, at(140))
    assert (outcome, refund) == (RefundOutcome.STARTED, recorded(seconds=140))
    assert await world.storage.balance(BUYER) == Balance(0, 0)


async def test_held_money_does_not_count_as_available_for_a_refund(world: World) -> None:
    await world.paid()
    hold = LedgerEntry("hold:j", BUYER, EntryKind.HOLD, held=1, job_id=None)
    await world.storage.post(hold)
    before = await world.money()
    assert (await world.refunds.begin_refund("ch-1", OPERATOR, at(120)))[0] is (
        RefundOutcome.SPENT
    )
    assert await world.money() == before


async def test_an_unknown_or_refused_payment_is_not_found(world: World) -> None:
    await world.paid()
    # A payment for the wrong number of Stars is recorded refused: it credited nothing.
    await world.payments.create_purchase(
        Purchase("p-bad", BUYER, STARS, AMOUNT, PurchaseStatus.OPEN, T0)
    )
    outcome, _ = await world.payments.record_payment(payment("bad", "p-bad", stars=STARS - 1))
    assert outcome is CreditOutcome.REFUSED
    before = await world.money()
    for charge_id in ("nope", "bad"):
        assert await world.refunds.begin_refund(charge_id, OPERATOR, at(120)) == (
            RefundOutcome.NOT_FOUND,
            None,
        ), charge_id
    assert await world.money() == before
    assert await world.refunds.pending_refunds() == []


# ----------------------------------------------------------------------- after begin


async def test_confirming_is_idempotent_and_keeps_the_first_time(world: World) -> None:
    await world.paid()
    await world.refunds.begin_refund("ch-1", OPERATOR, at(120))
    first = await world.refunds.confirm_refund("ch-1", at(200))
    assert first == attrs.evolve(recorded(), confirmed_at=at(200))
    assert first is not None
    assert first.confirmed
    assert await world.refunds.confirm_refund("ch-1", at(300)) == first
    assert await world.refunds.pending_refunds() == []
    assert await world.refunds.confirm_refund("unknown", at(300)) is None
    # Confirming is bookkeeping only: the money moved once, at begin.
    assert await world.storage.balance(BUYER) == Balance(0, 0)
    assert len(await world.refund_entries(BUYER)) == 1


async def test_each_attempt_is_counted_with_its_error(world: World) -> None:
    await world.paid()
    await world.refunds.begin_refund("ch-1", OPERATOR, at(120))
    await world.refunds.note_refund_attempt("ch-1", "timeout")
    await world.refunds.note_refund_attempt("ch-1", "Bad Request: flood")
    [pending] = await world.refunds.pending_refunds()
    assert (pending.attempts, pending.last_error) == (2, "Bad Request: flood")
    await world.refunds.note_refund_attempt("ch-1", None)
    [pending] = await world.refunds.pending_refunds()
    assert (pending.attempts, pending.last_error) == (3, None)
    await world.refunds.note_refund_attempt("unknown", "x")  # no record: nothing to count
    assert await world.refunds.pending_refunds() == [attrs.evolve(recorded(), attempts=3)]


async def test_pending_lists_only_unconfirmed_refunds_oldest_first(world: World) -> None:
    for charge_id, seconds in (("a", 300), ("b", 100), ("c", 200), ("d", 50)):
        await world.paid(charge_id)
        outcome, _ = await world.refunds.begin_refund(charge_id, OPERATOR, at(seconds))
        assert outcome is RefundOutcome.STARTED
    await world.refunds.confirm_refund("d", at(400))
    listed = [r.charge_id for r in await world.refunds.pending_refunds()]
    assert listed == ["b", "c", "a"]
    assert [r.charge_id for r in await world.refunds.pending_refunds(limit=2)] == ["b", "c"]
    assert [r.requested_at for r in await world.refunds.pending_refunds()] == [
        at(100),
        at(200),
        at(300),
    ]


async def test_concurrent_refunds_of_one_charge_take_the_credit_back_once(
    world: World,
) -> None:
    await world.storage.post(bonus("gift", BUYER, AMOUNT * 4))  # enough to pay several times
    await world.paid()
    results = await asyncio.gather(
        *(world.refunds.begin_refund("ch-1", OPERATOR, at(120)) for _ in range(5))
    )
    outcomes = sorted(outcome.value for outcome, _ in results)
    assert outcomes == ["already"] * 4 + ["started"]
    assert {refund for _, refund in results} == {recorded()}
    assert [e.key for e in await world.refund_entries(BUYER)] == [refund_key("ch-1")]
    assert await world.storage.balance(BUYER) == Balance(AMOUNT * 4, 0)


async def test_the_ledger_invariant_holds_after_a_mix_of_refunds(world: World) -> None:
    await world.paid("a", amount=9_000)
    await world.paid("b", amount=45_000)
    await world.paid("c", amount=180)
    await world.paid("o", user_id=OTHER, amount=1_000)
    await world.storage.post(
        LedgerEntry("spend", BUYER, EntryKind.ADJUST, amount=-54_000, reason="spent")
    )
    # Available now 180: only c can be refunded; b asks more than is left, o is another user's.
    tries = [("b", RefundOutcome.SPENT), ("c", RefundOutcome.STARTED)]
    tries += [("c", RefundOutcome.ALREADY), ("a", RefundOutcome.SPENT)]
    tries += [("o", RefundOutcome.STARTED), ("zz", RefundOutcome.NOT_FOUND)]
    for charge_id, expected in tries:
        assert (await world.refunds.begin_refund(charge_id, OPERATOR, at(120)))[0] is expected
    for u, expected_total in ((BUYER, 0), (OTHER, 0)):
        entries = await world.storage.entries(u, 100)
        balance = await world.storage.balance(u)
        assert balance.total == sum(e.amount for e in entries) == expected_total
        assert balance.held == sum(e.held for e in entries) == 0
    assert sorted(e.key for e in await world.refund_entries(BUYER)) == [refund_key("c")]
    assert sorted(r.charge_id for r in await world.refunds.pending_refunds()) == ["c", "o"]


@pytest.mark.integration
async def test_refunds_racing_past_the_refund_check_still_take_the_credit_back_once(
    pg_url: str,
) -> None:
    # PostgreSQL only: the user's balance row is held from outside while five refunds start,
    # so without the payment row's lock all five would read "no refund yet" and collide. The
    # test waits until the server shows all five blocked, then lets them go.
    pool = await open_pool(pg_url, max_size=8)
    try:
        world = World(PostgresPayments(pool), PostgresPayments(pool), PostgresStorage(pool))
        for u in USERS:
            await world.storage.upsert_user(user(u))
        await world.paid()
        # The watcher is outside the holder's transaction: a transaction sees one snapshot of
        # pg_stat_activity, which would never change.
        async with pool.connection() as watcher, pool.connection() as holder, holder.transaction():
            await holder.execute("SELECT * FROM balances WHERE user_id = %s FOR UPDATE", (BUYER,))
            racers = [
                asyncio.ensure_future(world.refunds.begin_refund("ch-1", OPERATOR, at(120)))
                for _ in range(5)
            ]
            blocked = 0
            for _ in range(10_000):  # each round trip yields to the racers; bounded, no sleep
                cur = await watcher.execute(
                    "SELECT count(*) AS n FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                row = await cur.fetchone()
                assert row is not None
                blocked = int(row["n"])
                if blocked == 5:
                    break
            assert blocked == 5
        results = await asyncio.gather(*racers)
        assert sorted(o.value for o, _ in results) == ["already"] * 4 + ["started"]
        assert [e.key for e in await world.refund_entries(BUYER)] == [refund_key("ch-1")]
        assert await world.storage.balance(BUYER) == Balance(0, 0)
    finally:
        await pool.close()
