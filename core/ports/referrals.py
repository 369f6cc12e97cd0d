"""ReferralsPort: invite codes, who invited whom, and the bonuses a referral paid."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

import attrs

from core.domain.ledger import LedgerEntry


@attrs.frozen
class Referral:
    """The invitee joined through the inviter's link. An invitee has at most one, ever."""

    invitee_id: int
    inviter_id: int
    created_at: datetime
    inviter_bonus: int = 0
    invitee_bonus: int = 0
    """What the referral paid each side, in minor units (kept for the inviter's screen)."""

    def __attrs_post_init__(self) -> None:
        if self.invitee_id == self.inviter_id:
            raise ValueError("a user cannot invite themselves")
        if self.inviter_bonus < 0 or self.invitee_bonus < 0:
            raise ValueError("referral bonuses are never negative")


@attrs.frozen
class ReferralStats:
    invited: int
    """Friends who joined through the user's link."""
    earned: int
    """Bonuses those referrals paid the user, in minor units."""


class ReferralsPort(abc.ABC):
    @abc.abstractmethod
    async def claim_code(self, user_id: int, code: str, now: datetime) -> str | None:
        """The user's invite code: the one already stored, else ``code``, now stored.

        None when the user has no code yet and ``code`` belongs to somebody else (the caller
        tries another one). A user's code never changes once stored.
        """

    @abc.abstractmethod
    async def code_of(self, user_id: int) -> str | None: ...

    @abc.abstractmethod
    async def owner_of(self, code: str) -> int | None:
        """The user whose invite code this is; None for an unknown code."""

    @abc.abstractmethod
    async def record(self, referral: Referral, bonuses: Sequence[LedgerEntry]) -> bool:
        """Record the referral and post ``bonuses`` to the ledger in one unit of work.

        False, with nothing recorded or posted, when the invitee already has an inviter (this
        one or another). Ledger errors (``IdempotencyConflict``) propagate and leave nothing
        behind either.
        """

    @abc.abstractmethod
    async def inviter_of(self, invitee_id: int) -> Referral | None: ...

    @abc.abstractmethod
    async def stats(self, inviter_id: int) -> ReferralStats: ...
