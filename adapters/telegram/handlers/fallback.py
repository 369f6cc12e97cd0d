"""Every message or button gets an answer: anything unmatched shows the menu."""

from __future__ import annotations

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from adapters.telegram.context import BotServices, Tr
from adapters.telegram.keyboards import main_menu


async def stale_button(
    query: CallbackQuery, state: FSMContext, services: BotServices, tr: Tr
) -> None:
    await state.clear()
    await query.answer(tr("stale-button"))
    if query.message is not None:
        await query.bot.send_message(  # type: ignore[union-attr]
            query.message.chat.id, tr("menu-title"), reply_markup=main_menu(tr, services.catalog)
        )


async def unknown_input(message: Message, services: BotServices, tr: Tr) -> None:
    await message.answer(tr("unknown-input"), reply_markup=main_menu(tr, services.catalog))


def build() -> Router:
    router = Router(name="fallback")
    router.callback_query.register(stale_button)
    router.message.register(unknown_input)
    return router
