"""History (a page of the user's jobs) and Repeat (a job's model and parameters again, at
today's price, through the usual confirmation)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from adapters.telegram.callbacks import HistoryCb, MenuCb, RepeatCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.handlers.wizard import show_confirmation
from adapters.telegram.keyboards import history_menu, main_menu
from core.domain.jobs import JobStatus
from core.domain.users import User

# A job that ended without a result can be repeated too (that is what a user retries).
_REPEATABLE = frozenset({JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.EXPIRED})


async def history_view(services: BotServices, tr: Tr, user: User, page: int) -> tuple[str, object]:
    found = await services.history.page(user.id, page)
    if not found.jobs:
        text = tr("history-empty") if found.page == 0 else tr("history-title")
        return text, history_menu(tr, [], found.page, more=False)
    lines = [tr("history-title"), ""]
    repeatable: list[tuple[int, str]] = []
    for n, job in enumerate(found.jobs, start=found.page * services.history.page_size + 1):
        model = services.catalog.find(job.model_id)
        title = model.title if model is not None else job.model_id
        lines.append(
            tr(
                "history-line",
                n=n,
                status=tr(f"job-status-{job.status.value}"),
                title=title,
                price=services.pricing.format(job.price),
                date=f"{job.created_at:%d.%m %H:%M}",
            )
        )
        if job.status in _REPEATABLE:
            repeatable.append((n, job.id))
    return "\n".join(lines), history_menu(tr, repeatable, found.page, found.more)


async def history_button(query: CallbackQuery, services: BotServices, tr: Tr, user: User) -> None:
    text, markup = await history_view(services, tr, user, 0)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)  # type: ignore[arg-type]


async def history_page(
    query: CallbackQuery, callback_data: HistoryCb, services: BotServices, tr: Tr, user: User
) -> None:
    text, markup = await history_view(services, tr, user, callback_data.page)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)  # type: ignore[arg-type]


async def history_command(message: Message, services: BotServices, tr: Tr, user: User) -> None:
    text, markup = await history_view(services, tr, user, 0)
    await message.answer(text, reply_markup=markup)  # type: ignore[arg-type]


async def repeat(
    query: CallbackQuery,
    callback_data: RepeatCb,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
    user: User,
) -> None:
    job = await services.history.own_job(user.id, callback_data.job_id)
    if job is None:
        await query.answer(tr("stale-button"))
        return
    model = services.catalog.find(job.model_id)
    if model is None or model.hidden:
        await query.answer(tr("repeat-unavailable"), show_alert=True)
        return
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await state.clear()
    await state.set_data({"model_id": model.id, "params": {}})
    # A new confirmation (its own draft, today's price); nothing is held until it is confirmed.
    await show_confirmation(query.message, state, services, tr, user, dict(job.params))


async def menu_command(message: Message, state: FSMContext, services: BotServices, tr: Tr) -> None:
    await state.clear()
    await message.answer(tr("menu-title"), reply_markup=main_menu(tr, services.catalog))


def build() -> Router:
    router = Router(name="history")
    router.callback_query.register(history_button, MenuCb.filter(F.action == "history"))
    router.callback_query.register(history_page, HistoryCb.filter(F.page >= 0))
    router.callback_query.register(repeat, RepeatCb.filter())
    router.message.register(history_command, Command("history"))
    router.message.register(menu_command, Command("menu"))
    return router
