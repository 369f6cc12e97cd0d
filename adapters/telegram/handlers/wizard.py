"""The generation wizard's steps, shared by the prompt and media handlers.

Order: each media parameter in schema order, then the prompt (when the model has one), then
each option (``options.py``), then the confirmation. The FSM data carries ``model_id``, the
collected ``params``, ``step`` (the index of the media parameter being asked) and ``option``
(the index of the option being asked); it lives in PostgreSQL, so a restart or another
instance continues where the user was.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message

from adapters.telegram.context import BotServices, Tr
from adapters.telegram.keyboards import cancel_only, confirm_menu, media_menu
from adapters.telegram.labels import param_label, value_label
from core.domain.catalog import ModelSpec, ParamSpec, ParamType
from core.domain.errors import InvalidParams
from core.domain.users import User
from core.usecases.free_tier import refills_at
from core.usecases.pricing import Quote

DEFAULT_PROMPT_LIMIT = 4000
MB = 1024 * 1024


class Wizard(StatesGroup):
    media = State()
    prompt = State()
    option = State()
    confirm = State()


def prompt_limit(model: ModelSpec) -> int:
    spec = model.param("prompt")
    return (spec.max_length if spec else None) or DEFAULT_PROMPT_LIMIT


def media_limit(spec: ParamSpec, services: BotServices) -> int:
    """Bytes accepted for one file: the model's max_mb, capped by what getFile can fetch."""
    model_limit = spec.max_mb * MB if spec.max_mb else services.download_limit
    return min(model_limit, services.download_limit)


def media_ask_text(tr: Tr, model: ModelSpec, spec: ParamSpec, services: BotServices) -> str:
    key = "media-ask-many" if spec.max_items > 1 else "media-ask"
    return tr(
        key,
        title=model.title,
        kind=tr(f"media-kind-{spec.media or 'document'}"),
        name=spec.name,
        max=spec.max_items,
        mb=media_limit(spec, services) // MB,
    )


def media_keyboard(tr: Tr, spec: ParamSpec, step: int, collected: int) -> Any:
    return media_menu(
        tr,
        step,
        skip=not spec.required and collected == 0,
        done=spec.max_items > 1 and collected > 0,
    )


async def begin(model: ModelSpec, state: FSMContext, services: BotServices, tr: Tr) -> str:
    """Enter the first step; returns the question to show under the model card."""
    await state.set_data({"model_id": model.id, "params": {}, "step": 0})
    if model.media_params:
        await state.set_state(Wizard.media)
        return media_ask_text(tr, model, model.media_params[0], services)
    await state.set_state(Wizard.prompt)
    return tr("model-ask-prompt", title=model.title, max=prompt_limit(model))


async def advance(
    answer_to: Message, state: FSMContext, services: BotServices, tr: Tr, user: User
) -> None:
    """Go past the current media parameter: the next one, the prompt, or the confirmation."""
    data = await state.get_data()
    model = services.catalog.get(data["model_id"])
    step = int(data.get("step", 0)) + 1
    await state.update_data(step=step)
    if step < len(model.media_params):
        spec = model.media_params[step]
        await answer_to.answer(
            media_ask_text(tr, model, spec, services),
            reply_markup=media_keyboard(tr, spec, step, 0),
        )
        return
    if model.param("prompt") is not None:
        await state.set_state(Wizard.prompt)
        await answer_to.answer(
            tr("model-ask-prompt", title=model.title, max=prompt_limit(model)),
            reply_markup=cancel_only(tr),
        )
        return
    from adapters.telegram.handlers.options import options_or_confirmation

    await options_or_confirmation(answer_to, state, services, tr, user, data.get("params", {}))


async def show_confirmation(
    answer_to: Message,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
    user: User,
    params: dict[str, Any],
) -> None:
    data = await state.get_data()
    model = services.catalog.get(data["model_id"])
    try:
        quote = await services.quote(user.id, model.id, params)
    except InvalidParams as exc:
        await answer_to.answer(tr("invalid-param", field=exc.field, problem=exc.problem))
        return
    draft = secrets.token_urlsafe(9)
    await state.set_state(Wizard.confirm)
    # Only what the user chose is kept: defaults are applied again at confirmation.
    await state.set_data(
        {"model_id": model.id, "params": jsonable(params), "draft": draft, "price": quote.price}
    )
    markup = confirm_menu(
        tr,
        draft,
        services.pricing.format(quote.price),
        quote.affordable,
        options=bool(model.option_params),
    )
    text = confirmation_text(tr, services, quote, params)
    if answer_to.from_user is not None and answer_to.from_user.is_bot:
        await answer_to.edit_text(text, reply_markup=markup)  # a button of ours was pressed
    else:
        await answer_to.answer(text, reply_markup=markup)


def jsonable(params: Any) -> dict[str, Any]:
    """The FSM state is JSON in PostgreSQL: media tuples become lists."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(params).items()}


def confirmation_text(
    tr: Tr, services: BotServices, quote: Quote, chosen: dict[str, Any] | None = None
) -> str:
    """Model, inputs and every option by its name in the user's language (a default one
    says so), the price and the balance after it."""
    fmt = services.pricing.format
    chosen = chosen or {}
    lines = [tr("confirm-title"), "", tr("confirm-model", title=quote.model.title)]
    for spec in quote.model.params:
        value = quote.params.get(spec.name)
        if value is None:
            continue
        if spec.type is ParamType.TEXT:
            lines.append(tr("confirm-prompt", prompt=value))
        elif spec.type is ParamType.MEDIA:
            lines.append(tr("confirm-media", name=param_label(tr, spec), count=len(value)))
        elif spec.name in chosen:
            lines.append(
                tr("confirm-param", name=param_label(tr, spec), value=value_label(tr, spec, value))
            )
        else:
            lines.append(
                tr(
                    "confirm-param-default",
                    name=param_label(tr, spec),
                    value=value_label(tr, spec, value),
                )
            )
    typical = services.catalog.typical_time(quote.model)
    if typical is not None:
        seconds = int(typical.total_seconds())
        eta = (
            tr("confirm-eta-seconds", seconds=seconds)
            if seconds < 90
            else tr("confirm-eta-minutes", minutes=round(seconds / 60))
        )
        lines.append(eta)
    lines += ["", tr("confirm-price", price=fmt(quote.price))]
    if quote.free and quote.free_left is not None:
        lines.append(tr("confirm-free", left=quote.free_left - 1))
    elif quote.free_left == 0:
        lines.append(tr("confirm-free-used-up", time=f"{refills_at(datetime.now(UTC)):%H:%M}"))
    if quote.affordable:
        lines.append(tr("confirm-after", after=fmt(quote.balance_after)))
    else:
        lines.append(
            tr("confirm-short", missing=fmt(quote.missing), available=fmt(quote.available))
        )
    return "\n".join(lines)
