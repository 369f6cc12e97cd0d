"""/start: greet and show the main menu; a ``ref_<code>`` parameter may pay a referral."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from adapters.telegram.context import BotServices, Tr
from adapters.telegram.handlers.referrals import accept_referral
from adapters.telegram.keyboards import main_menu
from core.domain.users import User


async def start(
    message: Message,
    state: FSMContext,
    bot: Bot,
    services: BotServices,
    tr: Tr,
    user: User,
    command: CommandObject,
    new_user: bool = False,
) -> None:
    await state.clear()
    name = user.first_name or user.username or "👋"
    text = tr("start-greeting", name=name)
    note = await accept_referral(bot, services, tr, user, command.args, new_user)
    if note:
        text = f"{text}\n\n{note}"
    await message.answer(text, reply_markup=main_menu(tr, services.catalog))


def build() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    return router
