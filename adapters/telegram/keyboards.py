"""Inline keyboards, built from the catalog and the translator."""

from __future__ import annotations

from urllib.parse import urlencode

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from adapters.telegram.callbacks import (
    CancelCb,
    CategoryCb,
    CategoryPageCb,
    ConfirmCb,
    HistoryCb,
    JobCancelCb,
    LanguageCb,
    MediaCb,
    MenuCb,
    ModelCb,
    RepeatCb,
    TopUpCb,
    WizardCb,
)
from adapters.telegram.context import BotServices, Tr
from core.domain.catalog import Catalog, Category, ModelSpec
from core.domain.money import Pricing


def main_menu(tr: Tr, catalog: Catalog) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for category in Category:
        if catalog.visible(category):
            kb.button(
                text=tr(f"menu-{category.value}"), callback_data=CategoryCb(category=category)
            )
    if any(sku.free for model in catalog.visible() for sku in model.skus):
        kb.button(text=tr("menu-free"), callback_data=MenuCb(action="free"))
    kb.button(text=tr("menu-balance"), callback_data=MenuCb(action="balance"))
    kb.button(text=tr("menu-topup"), callback_data=MenuCb(action="topup"))
    kb.button(text=tr("menu-history"), callback_data=MenuCb(action="history"))
    kb.button(text=tr("menu-invite"), callback_data=MenuCb(action="invite"))
    kb.button(text=tr("menu-help"), callback_data=MenuCb(action="help"))
    kb.button(text=tr("menu-language"), callback_data=MenuCb(action="language"))
    kb.adjust(2)
    return kb.as_markup()


def free_menu(tr: Tr, models: list[ModelSpec]) -> InlineKeyboardMarkup:
    """The Free screen: each free model opens its usual card (the model-pick callback)."""
    kb = InlineKeyboardBuilder()
    for model in models:
        kb.button(
            text=tr("free-model", title=model.title), callback_data=ModelCb(model_id=model.id)
        )
    kb.button(text=tr("btn-menu"), callback_data=MenuCb(action="home"))
    kb.adjust(1)
    return kb.as_markup()


def cheapest(model: ModelSpec, pricing: Pricing) -> int:
    return min(sku.price_in(pricing) for sku in model.skus)


MODELS_PER_PAGE = 8


def models_menu(
    tr: Tr, models: list[ModelSpec], pricing: Pricing, category: str = "", page: int = 0
) -> InlineKeyboardMarkup:
    """A page of a category's models (cheapest price on each), paging when there are more."""
    pages = max(1, -(-len(models) // MODELS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    kb = InlineKeyboardBuilder()
    shown = models[page * MODELS_PER_PAGE : (page + 1) * MODELS_PER_PAGE]
    for model in shown:
        price = pricing.format(cheapest(model, pricing))
        kb.button(text=f"{model.title} · {price}", callback_data=ModelCb(model_id=model.id))
    paging = 0
    if page > 0:
        kb.button(
            text=tr("btn-prev-page"),
            callback_data=CategoryPageCb(category=category, page=page - 1),
        )
        paging += 1
    if page + 1 < pages:
        kb.button(
            text=tr("btn-next-page", page=page + 2, pages=pages),
            callback_data=CategoryPageCb(category=category, page=page + 1),
        )
        paging += 1
    kb.button(text=tr("btn-back"), callback_data=MenuCb(action="home"))
    kb.adjust(*([1] * len(shown)), *([paging] if paging else []), 1)
    return kb.as_markup()


def confirm_menu(
    tr: Tr, draft: str, price: str, affordable: bool, *, options: bool = False
) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if affordable:
        kb.button(text=tr("btn-confirm", price=price), callback_data=ConfirmCb(draft=draft))
    else:
        kb.button(text=tr("btn-topup"), callback_data=MenuCb(action="topup"))
    if options:
        kb.button(text=tr("btn-options"), callback_data=WizardCb(action="options"))
    kb.button(text=tr("btn-restart"), callback_data=WizardCb(action="restart"))
    kb.button(text=tr("btn-cancel"), callback_data=CancelCb())
    kb.adjust(1, *((2,) if options else (1,)), 1)
    return kb.as_markup()


def media_menu(tr: Tr, step: int, *, skip: bool, done: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if done:
        kb.button(text=tr("btn-media-done"), callback_data=MediaCb(action="done", step=step))
    if skip:
        kb.button(text=tr("btn-media-skip"), callback_data=MediaCb(action="skip", step=step))
    kb.button(text=tr("btn-cancel"), callback_data=CancelCb())
    kb.adjust(1)
    return kb.as_markup()


def back_to_menu(tr: Tr) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=tr("btn-menu"), callback_data=MenuCb(action="home"))
    return kb.as_markup()


def invite_menu(tr: Tr, link: str) -> InlineKeyboardMarkup:
    """The invite screen: Telegram's share sheet with the link filled in, and Menu."""
    share = "https://t.me/share/url?" + urlencode({"url": link, "text": tr("invite-share-text")})
    kb = InlineKeyboardBuilder()
    kb.button(text=tr("btn-invite-share"), url=share)
    kb.button(text=tr("btn-menu"), callback_data=MenuCb(action="home"))
    kb.adjust(1)
    return kb.as_markup()


def short_of_money(tr: Tr) -> InlineKeyboardMarkup:
    """Under a model the balance cannot pay for: where the money is, or back."""
    kb = InlineKeyboardBuilder()
    kb.button(text=tr("btn-topup"), callback_data=MenuCb(action="topup"))
    kb.button(text=tr("btn-balance"), callback_data=MenuCb(action="balance"))
    kb.button(text=tr("btn-cancel"), callback_data=CancelCb())
    kb.adjust(1)
    return kb.as_markup()


def cancel_only(tr: Tr) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=tr("btn-cancel"), callback_data=CancelCb())
    return kb.as_markup()


def languages(tr: Tr, langs: list[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    names = {"ru": "Русский", "en": "English"}
    for lang in langs:
        kb.button(text=names.get(lang, lang), callback_data=LanguageCb(lang=lang))
    kb.button(text=tr("btn-back"), callback_data=MenuCb(action="home"))
    kb.adjust(2)
    return kb.as_markup()


def after_result(tr: Tr, job_id: str) -> InlineKeyboardMarkup:
    """Under a delivered result: the same again, or something new."""
    kb = InlineKeyboardBuilder()
    kb.button(text=tr("btn-repeat"), callback_data=RepeatCb(job_id=job_id))
    kb.button(text=tr("btn-new"), callback_data=MenuCb(action="home"))
    kb.adjust(2)
    return kb.as_markup()


def history_menu(
    tr: Tr, repeatable: list[tuple[int, str]], page: int, more: bool
) -> InlineKeyboardMarkup:
    """One Repeat button per listed job (by its number on the page), then paging and Menu."""
    kb = InlineKeyboardBuilder()
    for number, job_id in repeatable:
        kb.button(text=tr("btn-repeat-n", n=number), callback_data=RepeatCb(job_id=job_id))
    paging = 0
    if page > 0:
        kb.button(text=tr("btn-newer"), callback_data=HistoryCb(page=page - 1))
        paging += 1
    if more:
        kb.button(text=tr("btn-older"), callback_data=HistoryCb(page=page + 1))
        paging += 1
    kb.button(text=tr("btn-menu"), callback_data=MenuCb(action="home"))
    rows = [3] * (len(repeatable) // 3) + ([len(repeatable) % 3] if len(repeatable) % 3 else [])
    kb.adjust(*rows, *([paging] if paging else []), 1)
    return kb.as_markup()


def job_waiting(tr: Tr, job_id: str) -> InlineKeyboardMarkup:
    """Under the progress message until the provider has the job."""
    kb = InlineKeyboardBuilder()
    kb.button(text=tr("btn-cancel-job"), callback_data=JobCancelCb(job_id=job_id))
    return kb.as_markup()


def topup_menu(tr: Tr, services: BotServices) -> InlineKeyboardMarkup:
    """A button per preset (Stars and what they credit), another amount, back."""
    offer = services.stars_offer
    kb = InlineKeyboardBuilder()
    for stars in offer.presets:
        amount = services.pricing.format(offer.amount_of(stars))
        kb.button(
            text=tr("btn-topup-preset", stars=stars, amount=amount),
            callback_data=TopUpCb(stars=stars),
        )
    kb.button(text=tr("btn-topup-other"), callback_data=TopUpCb(stars=0))
    kb.button(text=tr("btn-menu"), callback_data=MenuCb(action="home"))
    kb.adjust(*([2] * (len(offer.presets) // 2)), *([1] if len(offer.presets) % 2 else []), 1, 1)
    return kb.as_markup()
