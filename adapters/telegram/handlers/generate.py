"""Model card → prompt → confirmation → launch."""

from __future__ import annotations

import secrets

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from adapters.telegram.callbacks import CancelCb, ConfirmCb, ModelCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.keyboards import (
    cancel_only,
    cheapest,
    confirm_menu,
    main_menu,
)
from core.domain.catalog import ModelSpec, ParamType
from core.domain.errors import InsufficientFunds, InvalidParams, UnknownModel
from core.domain.users import User
from core.usecases.pricing import Quote

DEFAULT_PROMPT_LIMIT = 4000


class Wizard(StatesGroup):
    prompt = State()
    confirm = State()


def prompt_limit(model: ModelSpec) -> int:
    spec = model.param("prompt")
    return (spec.max_length if spec else None) or DEFAULT_PROMPT_LIMIT


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
    if model is None or model.hidden or model.param("prompt") is None:
        await query.answer(tr("stale-button"), show_alert=False)
        return
    await state.set_state(Wizard.prompt)
    await state.set_data({"model_id": model.id})
    price = services.pricing.format(cheapest(model, services.pricing))
    card = tr("model-card", title=model.title, description=model.description, price=price)
    ask = tr("model-ask-prompt", title=model.title, max=prompt_limit(model))
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(f"{card}\n\n{ask}", reply_markup=cancel_only(tr))


async def got_prompt(
    message: Message, state: FSMContext, services: BotServices, tr: Tr, user: User
) -> None:
    data = await state.get_data()
    model = services.catalog.get(data["model_id"])
    text = message.text or ""
    if len(text) > prompt_limit(model):
        await message.answer(tr("prompt-too-long", length=len(text), max=prompt_limit(model)))
        return
    try:
        quote = await services.quote(user.id, model.id, {"prompt": text})
    except InvalidParams as exc:
        await message.answer(tr("invalid-param", field=exc.field, problem=exc.problem))
        return
    draft = secrets.token_urlsafe(9)
    await state.set_state(Wizard.confirm)
    await state.set_data({"model_id": model.id, "params": dict(quote.params), "draft": draft})
    await message.answer(
        confirmation_text(tr, services, quote),
        reply_markup=confirm_menu(
            tr, draft, services.pricing.format(quote.price), quote.affordable
        ),
    )


async def prompt_not_text(message: Message, tr: Tr) -> None:
    await message.answer(tr("prompt-not-text"), reply_markup=cancel_only(tr))


def confirmation_text(tr: Tr, services: BotServices, quote: Quote) -> str:
    fmt = services.pricing.format
    lines = [tr("confirm-title"), "", tr("confirm-model", title=quote.model.title)]
    for spec in quote.model.params:
        value = quote.params.get(spec.name)
        if value is None:
            continue
        if spec.type is ParamType.TEXT:
            lines.append(tr("confirm-prompt", prompt=value))
        else:
            lines.append(tr("confirm-param", name=spec.name, value=value))
    lines += ["", tr("confirm-price", price=fmt(quote.price))]
    if quote.affordable:
        lines.append(tr("confirm-after", after=fmt(quote.balance_after)))
    else:
        lines.append(
            tr("confirm-short", missing=fmt(quote.missing), available=fmt(quote.available))
        )
    return "\n".join(lines)


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
