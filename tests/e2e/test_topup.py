"""Stars top-ups through the real dispatcher: a purchase before the invoice, the pre-checkout
answer, one credit per charge, and nothing else ever credits a balance."""

from __future__ import annotations

from aiogram.methods import AnswerPreCheckoutQuery, DeleteMessage, SendInvoice

from core.domain.ledger import EntryKind
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import USER, last_markup_data
from tests.fakes.updates import callback, message, photo_message, pre_checkout, successful_payment

RATE = 180  # the default: 1.80 RUB per Star


async def invoice_for(harness: BotHarness, data: str = "t:100") -> SendInvoice:
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "m:topup"))
    assert data in last_markup_data(harness)
    await harness.feed(callback(USER, data))
    return harness.api.sent(SendInvoice)[-1]


def answers(harness: BotHarness) -> list[AnswerPreCheckoutQuery]:
    return [r for r in harness.api.requests if isinstance(r, AnswerPreCheckoutQuery)]


async def test_a_preset_is_invoiced_in_stars_and_a_payment_credits_once(
    harness: BotHarness,
) -> None:
    invoice = await invoice_for(harness)
    assert invoice.currency == "XTR"
    assert [p.amount for p in invoice.prices] == [100]
    assert invoice.provider_token in (None, "")
    purchase = await harness.container.adapters.payments().get_purchase(invoice.payload)
    assert purchase is not None  # stored before the invoice went out
    assert (purchase.user_id, purchase.stars, purchase.amount) == (USER, 100, 100 * RATE)

    await harness.feed(pre_checkout(USER, invoice.payload, 100))
    assert answers(harness)[-1].ok is True
    before = (await harness.storage.balance(USER)).total
    paid = successful_payment(USER, invoice.payload, 100, charge_id="stxCHARGE1")
    await harness.feed(paid)
    await harness.feed(successful_payment(USER, invoice.payload, 100, charge_id="stxCHARGE1"))

    balance = await harness.storage.balance(USER)
    assert balance.total == before + 100 * RATE
    topups = [e for e in harness.storage.ledger if e.kind is EntryKind.TOPUP]
    assert [(e.key, e.amount) for e in topups] == [("stars:stxCHARGE1", 18_000)]
    assert "✅ 180.00 RUB added to your balance." in harness.api.texts()[-1]
    assert len(harness.api.sent(DeleteMessage)) >= 1  # the paid invoice is tidied away


async def test_a_stale_or_foreign_invoice_is_refused_at_pre_checkout(harness: BotHarness) -> None:
    invoice = await invoice_for(harness)
    await harness.feed(pre_checkout(USER, invoice.payload, 99))  # not the invoiced amount
    await harness.feed(pre_checkout(USER + 1, invoice.payload, 100))  # someone else's
    await harness.feed(pre_checkout(USER, "no-such-purchase", 100))
    await harness.feed(pre_checkout(USER, invoice.payload, 100, currency="USD"))
    got = [(a.ok, a.error_message) for a in answers(harness)]
    assert got == [
        (False, "This invoice is out of date. Open the top-up menu again for a new one."),
        (False, "This invoice is not valid any more. Open the top-up menu again."),
        (False, "This invoice is not valid any more. Open the top-up menu again."),
        (False, "This invoice is out of date. Open the top-up menu again for a new one."),
    ]
    assert [e for e in harness.storage.ledger if e.kind is EntryKind.TOPUP] == []


async def test_another_amount_is_typed_within_the_bounds(harness: BotHarness) -> None:
    await harness.feed(message(USER, "/topup"))
    await harness.feed(callback(USER, "t:0"))
    assert harness.api.texts()[-1].startswith("How many Stars?")
    await harness.feed(message(USER, "0"))
    await harness.feed(message(USER, "twelve"))
    assert harness.api.sent(SendInvoice) == []
    await harness.feed(message(USER, "42"))
    [invoice] = harness.api.sent(SendInvoice)
    assert [p.amount for p in invoice.prices] == [42]


async def test_nothing_but_a_matching_payment_credits_a_balance(harness: BotHarness) -> None:
    invoice = await invoice_for(harness)
    before = list(harness.storage.ledger)
    await harness.feed(callback(USER, "t:77"))  # a crafted preset: not offered
    await harness.feed(photo_message(USER))  # a "receipt"
    await harness.feed(message(USER, "I paid, honestly"))
    # A payment for a purchase that is not this user's, or for other Stars, credits nothing.
    await harness.feed(successful_payment(USER + 1, invoice.payload, 100, charge_id="stxOTHER"))
    await harness.feed(successful_payment(USER, invoice.payload, 5, charge_id="stxFEW"))
    assert [e for e in harness.storage.ledger if e.kind is EntryKind.TOPUP] == []
    assert len(harness.storage.ledger) - len(before) <= 1  # at most the other user's bonus
    assert harness.api.sent(SendInvoice) == [invoice]


async def test_the_short_balance_screens_offer_a_top_up() -> None:
    harness = BotHarness(welcome_balance=100)
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "md:flux-2-pro"))
    assert "m:topup" in last_markup_data(harness)


async def test_payment_support_and_terms_answer_in_russian(harness: BotHarness) -> None:
    await harness.feed(message(USER, "/paysupport", lang="ru"))
    assert harness.api.texts()[-1].startswith("Проблема с оплатой?")
    await harness.feed(message(USER, "/terms", lang="ru"))
    assert harness.api.texts()[-1].startswith("Условия:")
