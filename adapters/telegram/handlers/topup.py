"""Topping up with Telegram Stars: presets or a typed amount → an invoice → the pre-checkout
answer → the credit, once per payment.

The purchase is stored before its invoice is sent and the invoice carries only its opaque
id, so nothing the user can send (a photo, a text, a crafted button) credits a balance: only a
``successful_payment`` Telegram reports for an open purchase of this user, for exactly its
Stars, does — once, keyed by Telegram's charge id.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery

from adapters.telegram.callbacks import MenuCb, TopUpCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.keyboards import back_to_menu, topup_menu
from core.domain.users import User
from core.ports.payments import CreditOutcome, StarsPayment
from core.usecases.topup import STARS, PreCheckout, TopUpError

log = logging.getLogger(__name__)


class TopUp(StatesGroup):
    amount = State()
    """Waiting for a typed number of Stars."""


_REFUSALS = {
    PreCheckout.UNKNOWN: "precheckout-unknown",
    PreCheckout.PAID: "precheckout-paid",
    PreCheckout.CHANGED: "precheckout-changed",
}


def topup_text(tr: Tr, services: BotServices) -> str:
    offer = services.stars_offer
    return "\n\n".join(
        [
            tr("topup-title", rate=services.pricing.format(offer.minor_per_star)),
            tr("topup-pick", min=offer.min_stars, max=offer.max_stars),
            tr("topup-no-stars"),
        ]
    )


async def topup_button(query: CallbackQuery, services: BotServices, tr: Tr) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            topup_text(tr, services), reply_markup=topup_menu(tr, services)
        )


async def topup_command(
    message: Message, state: FSMContext, services: BotServices, tr: Tr
) -> None:
    await state.clear()
    await message.answer(topup_text(tr, services), reply_markup=topup_menu(tr, services))


async def preset(
    query: CallbackQuery,
    callback_data: TopUpCb,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
    user: User,
    bot: Bot,
) -> None:
    if callback_data.stars == 0:  # "another amount": typed next
        await state.set_state(TopUp.amount)
        await query.answer()
        if isinstance(query.message, Message):
            offer = services.stars_offer
            await query.message.edit_text(
                tr("topup-ask-amount", min=offer.min_stars, max=offer.max_stars),
                reply_markup=back_to_menu(tr),
            )
        return
    if callback_data.stars not in services.stars_offer.presets:
        await query.answer(tr("stale-button"))  # a crafted amount: only presets are buttons
        return
    await query.answer()
    await send_invoice(bot, services, tr, user, callback_data.stars)


async def typed_amount(
    message: Message, state: FSMContext, services: BotServices, tr: Tr, user: User, bot: Bot
) -> None:
    offer = services.stars_offer
    text = (message.text or "").strip()
    stars = int(text) if text.isdigit() else 0
    if not offer.min_stars <= stars <= offer.max_stars:
        await message.answer(tr("topup-ask-amount", min=offer.min_stars, max=offer.max_stars))
        return
    await state.clear()
    await send_invoice(bot, services, tr, user, stars)


async def send_invoice(bot: Bot, services: BotServices, tr: Tr, user: User, stars: int) -> None:
    try:
        purchase = await services.start_topup(user.id, stars)
    except TopUpError:
        await bot.send_message(user.id, tr("stale-button"))
        return
    amount = services.pricing.format(purchase.amount)
    message = await bot.send_invoice(
        chat_id=user.id,
        title=tr("invoice-title", amount=amount),
        description=tr("invoice-description", stars=stars, amount=amount),
        payload=purchase.id,
        currency=STARS,
        prices=[LabeledPrice(label=tr("invoice-label", amount=amount), amount=stars)],
        provider_token="",
    )
    await services.payments.set_invoice_message(purchase.id, message.message_id)


async def pre_checkout(query: PreCheckoutQuery, services: BotServices, tr: Tr) -> None:
    verdict = await services.check_pre_checkout(
        query.from_user.id, query.invoice_payload, query.currency, query.total_amount
    )
    if verdict is PreCheckout.OK:
        await query.answer(ok=True)
        return
    log.warning(
        "pre-checkout refused user_id=%s payload=%s: %s",
        query.from_user.id,
        query.invoice_payload,
        verdict.value,
    )
    await query.answer(ok=False, error_message=tr(_REFUSALS[verdict]))


async def paid(message: Message, services: BotServices, tr: Tr, user: User, bot: Bot) -> None:
    payment = message.successful_payment
    assert payment is not None  # the filter
    outcome, purchase = await services.credit_stars(
        StarsPayment(
            charge_id=payment.telegram_payment_charge_id,
            purchase_id=payment.invoice_payload,
            user_id=user.id,
            stars=payment.total_amount,
            currency=payment.currency,
            paid_at=message.date,
            provider_charge_id=payment.provider_payment_charge_id or "",
        )
    )
    if outcome is CreditOutcome.DUPLICATE:
        return  # Telegram delivered it again: credited the first time, said the first time
    if outcome is CreditOutcome.REFUSED or purchase is None:
        log.error(
            "Stars payment matches no open purchase user_id=%s charge=%s payload=%s",
            user.id,
            payment.telegram_payment_charge_id,
            payment.invoice_payload,
        )
        await message.answer(tr("topup-unmatched"), reply_markup=back_to_menu(tr))
        return
    if purchase.invoice_message_id is not None:
        try:  # the paid invoice is tidied away; the receipt below replaces it
            await bot.delete_message(user.id, purchase.invoice_message_id)
        except TelegramBadRequest as exc:
            log.info("paid invoice left in the chat: %s", exc)
    balance = await services.storage.balance(user.id)
    fmt = services.pricing.format
    await message.answer(
        tr("topup-done", amount=fmt(purchase.amount), available=fmt(balance.available)),
        reply_markup=back_to_menu(tr),
    )


async def paysupport(message: Message, tr: Tr) -> None:
    await message.answer(tr("paysupport-text"), reply_markup=back_to_menu(tr))


async def terms(message: Message, tr: Tr) -> None:
    await message.answer(tr("terms-text"), reply_markup=back_to_menu(tr))


def build() -> Router:
    router = Router(name="topup")
    router.callback_query.register(topup_button, MenuCb.filter(F.action == "topup"))
    router.callback_query.register(preset, TopUpCb.filter(F.stars >= 0))
    router.message.register(topup_command, Command("topup"))
    router.message.register(paysupport, Command("paysupport"))
    router.message.register(terms, Command("terms"))
    router.message.register(paid, F.successful_payment)
    router.message.register(typed_amount, TopUp.amount, F.text)
    router.pre_checkout_query.register(pre_checkout)
    return router
