"""``/admin`` and ``/credits``: the operator's panel (so far the Kie.ai account balance), for
``ADMIN_IDS`` only; anyone else gets the answer any unknown command gets."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from adapters.telegram.context import BotServices, Tr
from core.domain.users import User
from core.ports.generation import GenerationError
from core.ports.refunds import RefundOutcome

log = logging.getLogger(__name__)


async def admin_command(message: Message, services: BotServices, tr: Tr, user: User) -> None:
    if user.id not in services.admins:
        await message.answer(tr("unknown-input"))
        return
    await message.answer(
        "\n\n".join([tr("admin-title"), await credits_line(services, tr), tr("admin-commands")])
    )


async def credits_command(message: Message, services: BotServices, tr: Tr, user: User) -> None:
    if user.id not in services.admins:
        await message.answer(tr("unknown-input"))
        return
    await message.answer(await credits_line(services, tr))


async def refund_command(
    message: Message, command: CommandObject, services: BotServices, tr: Tr, user: User
) -> None:
    """``/refund <charge id>``: give a Stars payment back (whole, while it is unspent)."""
    if user.id not in services.admins:
        await message.answer(tr("unknown-input"))
        return
    charge_id = (command.args or "").strip()
    if not charge_id:
        await message.answer(tr("admin-refund-usage"))
        return
    outcome, confirmed = await services.refund_stars(charge_id, user.id)
    log.info("admin %s refund charge=%s: %s", user.id, charge_id, outcome.value)
    key = {
        RefundOutcome.STARTED: "admin-refund-done" if confirmed else "admin-refund-pending",
        RefundOutcome.ALREADY: "admin-refund-already",
        RefundOutcome.SPENT: "admin-refund-spent",
        RefundOutcome.NOT_FOUND: "admin-refund-unknown",
    }[outcome]
    await message.answer(tr(key, charge=charge_id))


async def refunded(message: Message, services: BotServices) -> None:
    """Telegram's note that Stars went back (ours, or one made elsewhere): recorded."""
    note = message.refunded_payment
    assert note is not None  # the filter
    if await services.refund_stars.confirmed_by_telegram(note.telegram_payment_charge_id) is None:
        log.warning(
            "refunded_payment for a refund we did not record: %s", note.telegram_payment_charge_id
        )


async def credits_line(services: BotServices, tr: Tr) -> str:
    account = services.account
    if account is None:
        return tr("admin-credits-none")
    try:
        balance = await account.credits()
    except GenerationError as exc:
        log.warning("credit balance query failed: %s", exc)
        return tr("admin-credits-failed", reason=str(exc))
    if balance is None:
        return tr("admin-credits-none")
    return tr("admin-credits", credits=str(balance))


def build() -> Router:
    router = Router(name="admin_credits")
    router.message.register(admin_command, Command("admin"))
    router.message.register(credits_command, Command("credits"))
    router.message.register(refund_command, Command("refund"))
    router.message.register(refunded, F.refunded_payment)
    return router
