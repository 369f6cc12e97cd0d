"""The Free screen (/free, the menu's "Free today"): today's free generations and the models
they work on; each model button opens the model's usual card."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from adapters.telegram.callbacks import MenuCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.keyboards import back_to_menu, free_menu
from core.domain.users import User


async def free_view(services: BotServices, tr: Tr, user: User) -> tuple[str, InlineKeyboardMarkup]:
    if services.free_tier is None:
        return tr("free-off"), back_to_menu(tr)
    view = await services.free_tier(user.id)
    if not view.enabled:
        return tr("free-off"), back_to_menu(tr)
    lines = [
        tr("free-title"),
        "",
        tr("free-left", left=view.left, quota=view.quota, time=f"{view.refills_at:%H:%M}"),
    ]
    if view.left == 0:
        lines.append(tr("free-used-up"))
    lines += ["", tr("free-models")]
    return "\n".join(lines), free_menu(tr, view.models)


async def free_button(query: CallbackQuery, services: BotServices, tr: Tr, user: User) -> None:
    text, markup = await free_view(services, tr, user)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


async def free_command(message: Message, services: BotServices, tr: Tr, user: User) -> None:
    text, markup = await free_view(services, tr, user)
    await message.answer(text, reply_markup=markup)


def build() -> Router:
    router = Router(name="free")
    router.callback_query.register(free_button, MenuCb.filter(F.action == "free"))
    router.message.register(free_command, Command("free"))
    return router
