"""Main menu, categories, balance, help and language."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from adapters.telegram.callbacks import CategoryCb, CategoryPageCb, LanguageCb, MenuCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.keyboards import back_to_menu, languages, main_menu, models_menu
from core.domain.catalog import Category
from core.domain.users import User


async def show(query: CallbackQuery, text: str, markup: object) -> None:
    """Edit the menu message in place when possible, else send a new one."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)  # type: ignore[arg-type]


async def home(query: CallbackQuery, state: FSMContext, services: BotServices, tr: Tr) -> None:
    await state.clear()
    await show(query, tr("menu-title"), main_menu(tr, services.catalog))


async def category(
    query: CallbackQuery, callback_data: CategoryCb, services: BotServices, tr: Tr
) -> None:
    await category_page(query, callback_data.category, 0, services, tr)


async def category_paged(
    query: CallbackQuery, callback_data: CategoryPageCb, services: BotServices, tr: Tr
) -> None:
    await category_page(query, callback_data.category, callback_data.page, services, tr)


async def category_page(
    query: CallbackQuery, category: str, page: int, services: BotServices, tr: Tr
) -> None:
    models = services.catalog.visible(Category(category))
    text = tr("category-title") if models else tr("category-empty")
    await show(query, text, models_menu(tr, models, services.pricing, category, page))


async def balance(query: CallbackQuery, services: BotServices, tr: Tr, user: User) -> None:
    await show(query, await balance_text(services, tr, user), back_to_menu(tr))


async def balance_command(message: Message, services: BotServices, tr: Tr, user: User) -> None:
    await message.answer(await balance_text(services, tr, user), reply_markup=back_to_menu(tr))


async def balance_text(services: BotServices, tr: Tr, user: User) -> str:
    view = await services.show_balance(user.id)
    fmt = services.pricing.format
    lines = [tr("balance-title", available=fmt(view.balance.available))]
    if view.balance.held:
        lines.append(tr("balance-held", held=fmt(view.balance.held)))
    lines.append("")
    # Shown as changes of the available balance; a capture only turns a hold into a charge.
    moves = [(e, e.amount - e.held) for e in view.recent if e.amount - e.held]
    for entry, delta in moves:
        lines.append(tr("balance-entry", kind=tr(f"ledger-{entry.kind.value}"), amount=fmt(delta)))
    if not moves:
        lines.append(tr("balance-empty"))
    return "\n".join(lines)


async def help_(query: CallbackQuery, tr: Tr) -> None:
    await show(query, tr("help-text"), back_to_menu(tr))


async def language(query: CallbackQuery, services: BotServices, tr: Tr) -> None:
    await show(query, tr("language-choose"), languages(tr, services.translator.languages))


async def set_language(
    query: CallbackQuery, callback_data: LanguageCb, services: BotServices, user: User
) -> None:
    await services.set_language(user.id, callback_data.lang)
    tr = Tr(services.translator, callback_data.lang)
    await show(query, tr("language-set"), main_menu(tr, services.catalog))


async def help_command(message: Message, tr: Tr) -> None:
    await message.answer(tr("help-text"), reply_markup=back_to_menu(tr))


async def language_command(message: Message, services: BotServices, tr: Tr) -> None:
    await message.answer(
        tr("language-choose"), reply_markup=languages(tr, services.translator.languages)
    )


def build() -> Router:
    router = Router(name="menu")
    router.callback_query.register(home, MenuCb.filter(F.action == "home"))
    router.callback_query.register(
        category, CategoryCb.filter(F.category.in_({c.value for c in Category}))
    )
    router.callback_query.register(
        category_paged,
        CategoryPageCb.filter(F.category.in_({c.value for c in Category}) & (F.page >= 0)),
    )
    router.callback_query.register(balance, MenuCb.filter(F.action == "balance"))
    router.callback_query.register(help_, MenuCb.filter(F.action == "help"))
    router.callback_query.register(language, MenuCb.filter(F.action == "language"))
    router.callback_query.register(set_language, LanguageCb.filter(F.lang.in_({"ru", "en"})))
    router.message.register(help_command, Command("help"))
    router.message.register(balance_command, Command("balance"))
    router.message.register(language_command, Command("language"))
    return router
