"""``/admin`` and ``/credits``: the operator's panel (so far the Kie.ai account balance), for
``ADMIN_IDS`` only; anyone else gets the answer any unknown command gets."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from adapters.telegram.context import BotServices, Tr
from core.domain.users import User
from core.ports.generation import GenerationError

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
    return router
