"""Callback data: short, typed, and parsed strictly (a forged one matches no handler)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class MenuCb(CallbackData, prefix="m"):
    action: str  # home | balance | help | language | history


class CategoryCb(CallbackData, prefix="c"):
    category: str


class ModelCb(CallbackData, prefix="md"):
    model_id: str


class ConfirmCb(CallbackData, prefix="cf"):
    draft: str


class CancelCb(CallbackData, prefix="x"):
    pass


class LanguageCb(CallbackData, prefix="l"):
    lang: str


class MediaCb(CallbackData, prefix="mi"):
    action: str  # skip | done
    step: int
    """The media parameter's index: a button from an earlier step matches nothing."""


class HistoryCb(CallbackData, prefix="h"):
    page: int


class RepeatCb(CallbackData, prefix="r"):
    job_id: str
    """A job of the user's own: its model and parameters, at today's price."""
