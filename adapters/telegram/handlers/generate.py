"""Model card → media (media_input.py) → prompt → confirmation → launch."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from adapters.telegram.callbacks import CancelCb, ConfirmCb, ModelCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.handlers.wizard import (
    Wizard,
    begin,
    media_keyboard,
    prompt_limit,
    show_confirmation,
)
from adapters.telegram.keyboards import cancel_only, cheapest, main_menu
from core.domain.errors import InsufficientFunds, InvalidParams, UnknownModel
from core.domain.users import User


async def pick_model(
    query: CallbackQuery,
    callback_data: ModelCb,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
) -> None:
    try:
        model = services.catalog.get(callback_data.model_id)
    except UnknownModel:
        model = None
    if model is None or model.hidden or not (model.param("prompt") or model.media_params):
        await query.answer(tr("stale-button"), show_alert=False)
        return
    ask = await begin(model, state, services, tr)
    price = services.pricing.format(cheapest(model, services.pricing))
    card = tr("model-card", title=model.title, description=model.description, price=price)
    markup = (
        media_keyboard(tr, model.media_params[0], 0, 0) if model.media_params else cancel_only(tr)
    )
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(f"{card}\n\n{ask}", reply_markup=markup)


async def got_prompt(
    message: Message, state: FSMContext, services: BotServices, tr: Tr, user: User
) -> None:
    data = await state.get_data()
    model = services.catalog.get(data["model_id"])
    text = message.text or ""
    if len(text) > prompt_limit(model):
        await message.answer(tr("prompt-too-long", length=len(text), max=prompt_limit(model)))
        return
    # Media collected in earlier steps stay; the prompt joins them.
    params = {**data.get("params", {}), "prompt": text}
    await show_confirmation(message, state, services, tr, user, params)


async def prompt_not_text(message: Message, tr: Tr) -> None:
    await message.answer(tr("prompt-not-text"), reply_markup=cancel_only(tr))


async def confirm(
    query: CallbackQuery,
    callback_data: ConfirmCb,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
    user: User,
) -> None:
    data = await state.get_data()
    if data.get("draft") != callback_data.draft or "model_id" not in data:
        await query.answer(tr("stale-button"))
        return
    chat_id = query.message.chat.id if query.message else user.id
    try:
        confirmation = await services.confirm(
            confirm_key=f"{user.id}:{callback_data.draft}",
            user_id=user.id,
            chat_id=chat_id,
            lang=tr.lang,
            model_id=data["model_id"],
            params=data.get("params", {}),
        )
    except InsufficientFunds as exc:
        fmt = services.pricing.format
        await query.answer(
            tr("confirm-short", missing=fmt(exc.missing), available=fmt(exc.available)),
            show_alert=True,
        )
        return
    except (InvalidParams, UnknownModel):
        await query.answer(tr("stale-button"))
        return
    # The draft stays in the state, so a second tap lands on the idempotent confirm above.
    await state.set_state(None)
    if not confirmation.created:
        await query.answer(tr("job-already-started"))
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    await services.launch(confirmation.job)


async def cancel(query: CallbackQuery, state: FSMContext, services: BotServices, tr: Tr) -> None:
    await state.clear()
    await query.answer(tr("cancelled"))
    if isinstance(query.message, Message):
        await query.message.edit_text(
            tr("menu-title"), reply_markup=main_menu(tr, services.catalog)
        )


def build() -> Router:
    router = Router(name="generate")
    router.callback_query.register(pick_model, ModelCb.filter())
    router.message.register(got_prompt, Wizard.prompt, F.text)
    router.message.register(prompt_not_text, Wizard.prompt)
    router.callback_query.register(confirm, ConfirmCb.filter())
    router.callback_query.register(cancel, CancelCb.filter(), StateFilter("*"))
    return router
