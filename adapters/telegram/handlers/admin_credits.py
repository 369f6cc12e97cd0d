"""``/credits``: the Kie.ai account balance, for operators only."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from adapters.telegram.context import BotServices, Tr
from core.domain.users import User
from core.ports.generation import GenerationError

log = logging.getLogger(__name__)


async def credits_command(message: Message, services: BotServices, tr: Tr, user: User) -> None:
    if user.id not in services.admins:
        await message.answer(tr("unknown-input"))
        return
    account = services.account
    if account is None:
        await message.answer(tr("admin-credits-none"))
        return
    try:
        balance = await account.credits()
    except GenerationError as exc:
        log.warning("credit balance query failed: %s", exc)
        await message.answer(tr("admin-credits-failed", reason=str(exc)))
        return
    if balance is None:
        await message.answer(tr("admin-credits-none"))
        return
    await message.answer(tr("admin-credits", credits=str(balance)))


def build() -> Router:
    router = Router(name="admin_credits")
    router.message.register(credits_command, Command("credits"))
    return router
