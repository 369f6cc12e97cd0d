"""Model card → media (media_input.py) → prompt → confirmation → launch."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from adapters.telegram.callbacks import CancelCb, ConfirmCb, ModelCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.handlers.options import options_or_confirmation
from adapters.telegram.handlers.wizard import (
    Wizard,
    begin,
    media_keyboard,
    prompt_limit,
    show_confirmation,
)
from adapters.telegram.keyboards import cancel_only, main_menu, short_of_money
from adapters.telegram.labels import param_label
from core.domain.catalog import ModelSpec
from core.domain.errors import InsufficientFunds, InvalidParams, UnknownModel
from core.domain.users import User


async def model_screen(
    model: ModelSpec, state: FSMContext, services: BotServices, tr: Tr, user: User | None = None
) -> tuple[str, Any]:
    """The model card — what it does, what it asks for, its price range, the user's
    balance — and its first question, with the wizard entered at that step."""
    ask = await begin(model, state, services, tr)
    fmt = services.pricing.format
    prices = sorted(sku.price_in(services.pricing) for sku in model.skus)
    price = (
        fmt(prices[0])
        if prices[0] == prices[-1]
        else tr("price-range", low=fmt(prices[0]), high=fmt(prices[-1]))
    )
    inputs = ", ".join(param_label(tr, p) for p in model.params) or "—"
    lines = [
        tr("model-card", title=model.title, description=model.description, price=price),
        tr("model-inputs", inputs=inputs),
    ]
    markup = (
        media_keyboard(tr, model.media_params[0], 0, 0) if model.media_params else cancel_only(tr)
    )
    if user is not None:
        available = (await services.storage.balance(user.id)).available
        lines.append(tr("model-balance", available=fmt(available)))
        if available < prices[0]:
            lines.append(tr("model-short", missing=fmt(prices[0] - available)))
            markup = short_of_money(tr)
    return "\n".join(lines) + f"\n\n{ask}", markup


async def pick_model(
    query: CallbackQuery,
    callback_data: ModelCb,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
    user: User,
) -> None:
    model = services.catalog.find(callback_data.model_id)
    if model is None or model.hidden or not (model.param("prompt") or model.media_params):
        await query.answer(tr("stale-button"), show_alert=False)
        return
    text, markup = await model_screen(model, state, services, tr, user)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


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
    await options_or_confirmation(message, state, services, tr, user, params)


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
    params = data.get("params", {})
    if not data.get("confirmed"):
        # The price shown is the price taken: if it moved since (a free generation used up
        # on another screen, a catalog change), show the new one instead of charging it.
        try:
            quote = await services.quote(user.id, data["model_id"], params)
        except (InvalidParams, UnknownModel):
            await query.answer(tr("stale-button"))
            return
        if quote.price != data.get("price", quote.price) and isinstance(query.message, Message):
            await query.answer(tr("price-changed"), show_alert=True)
            await show_confirmation(query.message, state, services, tr, user, params)
            return
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
    await state.update_data(confirmed=True)
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
