"""Callback data: short, typed, and parsed strictly (a forged one matches no handler)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class MenuCb(CallbackData, prefix="m"):
    action: str  # home | balance | topup | help | language | history | free | invite


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


class OptionCb(CallbackData, prefix="o"):
    step: int
    """The option's index among the model's options: a button of another step matches nothing."""
    action: str  # pick | default | skip | back
    index: int = 0
    """The picked choice (enum choice, off/on, or numeric preset) by position."""


class WizardCb(CallbackData, prefix="w"):
    action: str  # options | restart


class JobCancelCb(CallbackData, prefix="jx"):
    job_id: str
    """Under a job's progress message while it is still queued."""


class CategoryPageCb(CallbackData, prefix="cp"):
    category: str
    page: int


class TopUpCb(CallbackData, prefix="t"):
    stars: int
    """A preset's Stars; 0 asks for another amount."""
