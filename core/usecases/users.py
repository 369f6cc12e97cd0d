"""Registering users on /start and their language choice."""

from __future__ import annotations

import attrs

from core.domain.ledger import EntryKind, LedgerEntry
from core.domain.users import LANGUAGES, User, pick_language
from core.ports.clock import ClockPort
from core.ports.storage import StoragePort


@attrs.frozen
class Registration:
    user: User
    created: bool
    """True when this call stored the user: they had never used the bot before."""


@attrs.define
class RegisterUser:
    storage: StoragePort
    clock: ClockPort
    welcome_balance: int = 0

    async def __call__(
        self,
        user_id: int,
        language_code: str | None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> Registration:
        candidate = User(
            id=user_id,
            lang=pick_language(language_code),
            created_at=self.clock.now(),
            username=username,
            first_name=first_name,
        )
        user, created = await self.storage.upsert_user(candidate)
        if self.welcome_balance > 0:
            # Keyed by user: a retried /start or a re-registration never credits twice.
            await self.storage.post(
                LedgerEntry(
                    f"welcome:{user_id}",
                    user_id,
                    EntryKind.BONUS,
                    amount=self.welcome_balance,
                    reason="welcome balance",
                )
            )
        return Registration(user, created)


@attrs.define
class SetLanguage:
    storage: StoragePort

    async def __call__(self, user_id: int, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}")
        await self.storage.set_language(user_id, lang)
