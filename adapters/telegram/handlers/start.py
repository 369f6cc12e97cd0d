"""/start: greet and show the main menu."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from adapters.telegram.context import BotServices, Tr
from adapters.telegram.keyboards import main_menu
from core.domain.users import User


async def start(
    message: Message, state: FSMContext, services: BotServices, tr: Tr, user: User
) -> None:
    await state.clear()
    name = user.first_name or user.username or "👋"
    await message.answer(
        tr("start-greeting", name=name), reply_markup=main_menu(tr, services.catalog)
    )


def build() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    return router
