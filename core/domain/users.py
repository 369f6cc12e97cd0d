"""Telegram users as the bot knows them."""

from __future__ import annotations

from datetime import datetime

import attrs

LANGUAGES = ("ru", "en")


def pick_language(telegram_code: str | None) -> str:
    """Russian for Russian-speaking clients, English for everyone else."""
    code = (telegram_code or "").lower()
    return "ru" if code.startswith(("ru", "uk", "be", "kk")) else "en"


@attrs.frozen
class User:
    id: int
    lang: str
    created_at: datetime
    username: str | None = None
    first_name: str | None = None
