"""The wizard's option steps: every enum, switch and number of the model's schema, in order.

Each step is one message with a button per choice (labelled with the price where the choice
changes it; the current value marked), "default", "skip all", back and cancel. A number may
also be typed, within the schema's bounds. The choices go into the FSM data's ``params``;
``option`` is the index of the step being asked.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from adapters.telegram.callbacks import CancelCb, OptionCb, WizardCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.handlers.wizard import Wizard, jsonable, show_confirmation
from adapters.telegram.labels import choices, param_label, value_label
from core.domain.catalog import ModelSpec, ParamSpec, ParamType
from core.domain.errors import InvalidParams
from core.domain.money import Pricing
from core.domain.users import User


def _price(model: ModelSpec, params: dict[str, Any], pricing: Pricing) -> int | None:
    try:
        return model.sku_for(model.validate(params)).price_in(pricing)
    except InvalidParams:
        return None


def option_keyboard(
    tr: Tr, model: ModelSpec, step: int, params: dict[str, Any], pricing: Pricing
) -> InlineKeyboardMarkup:
    spec = model.option_params[step]
    values = choices(spec)
    current = params.get(spec.name, spec.default)
    prices = [_price(model, {**params, spec.name: v}, pricing) for v in values]
    priced = len({p for p in prices if p is not None}) > 1
    kb = InlineKeyboardBuilder()
    for index, (value, price) in enumerate(zip(values, prices, strict=True)):
        label = value_label(tr, spec, value)
        if priced and price is not None:
            label = f"{label} · {pricing.format(price)}"
        if str(value) == str(current):
            label = f"• {label}"
        kb.button(text=label, callback_data=OptionCb(step=step, action="pick", index=index))
    kb.button(text=tr("btn-option-default"), callback_data=OptionCb(step=step, action="default"))
    kb.button(text=tr("btn-option-skip"), callback_data=OptionCb(step=step, action="skip"))
    kb.button(text=tr("btn-back"), callback_data=OptionCb(step=step, action="back"))
    kb.button(text=tr("btn-cancel"), callback_data=CancelCb())
    per_row = 2 if len(values) > 3 else len(values)
    kb.adjust(*([per_row] * ((len(values) + per_row - 1) // per_row)), 2, 2)
    return kb.as_markup()


def option_text(tr: Tr, model: ModelSpec, step: int, params: dict[str, Any]) -> str:
    spec = model.option_params[step]
    current = params.get(spec.name, spec.default)
    lines = [
        tr(
            "option-ask",
            n=step + 1,
            total=len(model.option_params),
            title=model.title,
            name=param_label(tr, spec),
            current=value_label(tr, spec, current) if current is not None else tr("value-none"),
        )
    ]
    if spec.type in (ParamType.INT, ParamType.NUMBER):
        lines.append(tr("option-ask-number", min=spec.min, max=spec.max))
    return "\n".join(lines)


async def ask_option(
    answer_to: Message, state: FSMContext, services: BotServices, tr: Tr, step: int, edit: bool
) -> None:
    data = await state.get_data()
    model = services.catalog.get(data["model_id"])
    params = dict(data.get("params", {}))
    await state.set_state(Wizard.option)
    await state.update_data(option=step)
    text = option_text(tr, model, step, params)
    markup = option_keyboard(tr, model, step, params, services.pricing)
    if edit:
        await answer_to.edit_text(text, reply_markup=markup)
    else:
        await answer_to.answer(text, reply_markup=markup)


async def options_or_confirmation(
    answer_to: Message,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
    user: User,
    params: dict[str, Any],
) -> None:
    """After the media and the prompt: the first option, or the confirmation if none."""
    await state.update_data(params=jsonable(params))
    await _next(answer_to, state, services, tr, user, 0, edit=False)


async def _next(
    message: Message,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
    user: User,
    step: int,
    *,
    edit: bool = True,
) -> None:
    """Option ``step``, or the confirmation once every option was asked."""
    data = await state.get_data()
    model = services.catalog.get(data["model_id"])
    if step < len(model.option_params):
        await ask_option(message, state, services, tr, step, edit=edit)
        return
    await show_confirmation(message, state, services, tr, user, dict(data.get("params", {})))


async def option_button(
    query: CallbackQuery,
    callback_data: OptionCb,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
    user: User,
) -> None:
    data = await state.get_data()
    message = query.message
    model = services.catalog.find(data.get("model_id", ""))
    step = callback_data.step
    if model is None or data.get("option") != step or not isinstance(message, Message):
        await query.answer(tr("stale-button"))
        return
    spec = model.option_params[step]
    params = dict(data.get("params", {}))
    if callback_data.action == "pick":
        values = choices(spec)
        if not 0 <= callback_data.index < len(values):
            await query.answer(tr("stale-button"))
            return
        params[spec.name] = values[callback_data.index]
    elif callback_data.action == "default":
        params.pop(spec.name, None)
    elif callback_data.action == "skip":
        await query.answer()
        await state.update_data(params=params)
        await show_confirmation(message, state, services, tr, user, params)
        return
    elif callback_data.action == "back":
        await query.answer()
        if step == 0:
            await restart(message, state, services, tr, model)
            return
        await ask_option(message, state, services, tr, step - 1, edit=True)
        return
    else:
        await query.answer(tr("stale-button"))
        return
    await query.answer()
    await state.update_data(params=params)
    await _next(message, state, services, tr, user, step + 1)


async def typed_number(
    message: Message, state: FSMContext, services: BotServices, tr: Tr, user: User
) -> None:
    data = await state.get_data()
    model = services.catalog.get(data["model_id"])
    step = int(data.get("option", 0))
    spec: ParamSpec = model.option_params[step]
    if spec.type not in (ParamType.INT, ParamType.NUMBER):
        await message.answer(tr("option-use-buttons"))
        return
    try:
        value = spec.check((message.text or "").strip().replace(",", "."))
    except InvalidParams:
        await message.answer(tr("option-number-range", min=spec.min, max=spec.max))
        return
    params = {**data.get("params", {}), spec.name: value}
    await state.update_data(params=jsonable(params))
    await _next(message, state, services, tr, user, step + 1, edit=False)


async def restart(
    message: Message, state: FSMContext, services: BotServices, tr: Tr, model: ModelSpec
) -> None:
    """Start the model over: its card and its first question, nothing kept."""
    from adapters.telegram.handlers.generate import model_screen

    text, markup = await model_screen(model, state, services, tr)
    await message.edit_text(text, reply_markup=markup)


async def wizard_button(
    query: CallbackQuery,
    callback_data: WizardCb,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
) -> None:
    data = await state.get_data()
    message = query.message
    model = services.catalog.find(data.get("model_id", ""))
    if model is None or not isinstance(message, Message):
        await query.answer(tr("stale-button"))
        return
    await query.answer()
    if callback_data.action == "options" and model.option_params:
        await state.update_data(draft=None)  # the old confirmation's button no longer confirms
        await ask_option(message, state, services, tr, 0, edit=True)
        return
    await restart(message, state, services, tr, model)


def build() -> Router:
    router = Router(name="options")
    router.callback_query.register(option_button, OptionCb.filter(), Wizard.option)
    router.message.register(typed_number, Wizard.option, F.text)
    router.callback_query.register(
        wizard_button, WizardCb.filter(F.action.in_({"options", "restart"}))
    )
    return router
