"""Stars refunds by an admin through the real dispatcher: the reversal is recorded first and
once, Telegram is asked until it confirms (an answer that it already refunded counts), spent
credit is refused, and nobody else can refund."""

from __future__ import annotations

from aiogram.methods import RefundStarPayment

from core.domain.ledger import EntryKind
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import USER, open_confirmation
from tests.e2e.test_topup import invoice_for
from tests.fakes.updates import callback, message, pre_checkout, successful_payment

ADMIN = 900


async def paid(harness: BotHarness, charge: str = "stxR1") -> None:
    invoice = await invoice_for(harness)
    await harness.feed(pre_checkout(USER, invoice.payload, 100))
    await harness.feed(successful_payment(USER, invoice.payload, 100, charge_id=charge))


def refunds(harness: BotHarness) -> list[RefundStarPayment]:
    return [r for r in harness.api.requests if isinstance(r, RefundStarPayment)]


def kinds(harness: BotHarness) -> list[EntryKind]:
    return [
        e.kind for e in harness.storage.ledger if e.kind in (EntryKind.TOPUP, EntryKind.REFUND)
    ]


async def test_a_refund_takes_the_credit_back_once_and_returns_the_stars() -> None:
    harness = BotHarness(admin_ids=str(ADMIN))
    await paid(harness)
    before = await harness.storage.balance(USER)
    await harness.feed(message(ADMIN, "/refund stxR1"))
    assert harness.api.texts()[-1].startswith("Refunded: stxR1.")
    await harness.feed(message(ADMIN, "/refund stxR1"))
    assert harness.api.texts()[-1] == "stxR1 was refunded before; nothing more was done."
    assert [(r.user_id, r.telegram_payment_charge_id) for r in refunds(harness)] == [
        (USER, "stxR1")
    ]
    assert kinds(harness) == [EntryKind.TOPUP, EntryKind.REFUND]
    assert (await harness.storage.balance(USER)).total == before.total - 18_000


async def test_telegram_saying_it_already_refunded_counts_as_confirmed() -> None:
    harness = BotHarness(admin_ids=str(ADMIN))
    await paid(harness)
    harness.api.fail_next(RefundStarPayment, 400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    await harness.feed(message(ADMIN, "/refund stxR1"))
    assert harness.api.texts()[-1].startswith("Refunded: stxR1.")
    refunds_port = harness.container.adapters.refunds()
    assert await refunds_port.pending_refunds() == []


async def test_a_refund_telegram_has_not_confirmed_is_asked_for_again() -> None:
    harness = BotHarness(admin_ids=str(ADMIN))
    await paid(harness)
    harness.api.fail_next(RefundStarPayment, 500, "Internal Server Error")
    await harness.feed(message(ADMIN, "/refund stxR1"))
    assert harness.api.texts()[-1].startswith("Recorded: stxR1.")
    assert kinds(harness) == [EntryKind.TOPUP, EntryKind.REFUND]  # the reversal came first
    refund = harness.container.usecases.refund_stars()
    [pending] = await refund.refunds.pending_refunds()
    assert (pending.attempts, pending.last_error is not None) == (1, True)
    assert await refund.retry_pending() == 1
    assert await refund.refunds.pending_refunds() == []
    assert len(refunds(harness)) == 2
    assert kinds(harness) == [EntryKind.TOPUP, EntryKind.REFUND]  # still taken back once


async def test_spent_credit_is_refused_and_nothing_changes() -> None:
    harness = BotHarness(admin_ids=str(ADMIN), welcome_balance=0)
    await paid(harness)
    # Spend some of the credit: a generation holds part of it.
    await harness.feed(callback(USER, await open_confirmation(harness, "a fox")))
    ledger = list(harness.storage.ledger)
    await harness.feed(message(ADMIN, "/refund stxR1"))
    assert harness.api.texts()[-1].startswith("Not refunded: the credit of stxR1")
    assert harness.storage.ledger == ledger
    assert refunds(harness) == []


async def test_nobody_but_an_admin_refunds(harness: BotHarness) -> None:
    await paid(harness)
    ledger = list(harness.storage.ledger)
    await harness.feed(message(USER, "/refund stxR1"))
    assert harness.api.texts()[-1] == "I did not understand that. Here is the menu."
    assert harness.storage.ledger == ledger
    assert refunds(harness) == []
