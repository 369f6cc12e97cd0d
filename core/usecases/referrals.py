"""Referrals: a personal invite code per user, and a bonus for both sides when a new user
joins through it.

The start parameter is ``ref_<code>``. A code is random (not derived from the user id), so
one user's link says nothing about another's and codes cannot be walked; it is stored on first
use and never changes, so links already shared keep working.
"""

from __future__ import annotations

import re

import attrs

from core.domain.ledger import EntryKind, LedgerEntry
from core.ports.clock import ClockPort, IdsPort
from core.ports.referrals import Referral, ReferralsPort, ReferralStats

START_PREFIX = "ref_"
CODE_LENGTH = 10
"""Ten characters of [A-Za-z0-9]: about 59 bits, far beyond guessing by trying links."""
CODE_ATTEMPTS = 5
_START_ARG = re.compile(r"ref_([A-Za-z0-9]{4,32})")


def invitee_key(invitee_id: int) -> str:
    return f"ref:invitee:{invitee_id}"


def inviter_key(invitee_id: int) -> str:
    """Keyed by the invitee too: one inviter bonus per invitee, whoever the inviter is."""
    return f"ref:inviter:{invitee_id}"


def start_payload(code: str) -> str:
    return f"{START_PREFIX}{code}"


def code_from(start_arg: str | None) -> str | None:
    """The invite code in a /start parameter, or None when it is not an invite."""
    match = _START_ARG.fullmatch((start_arg or "").strip())
    return match.group(1) if match else None


@attrs.frozen
class Invite:
    code: str
    stats: ReferralStats

    @property
    def payload(self) -> str:
        """The /start parameter of the user's invite link."""
        return start_payload(self.code)


@attrs.define
class ShowInvite:
    """The user's invite code (made and stored on first use) and what it has brought."""

    referrals: ReferralsPort
    ids: IdsPort
    clock: ClockPort

    async def __call__(self, user_id: int) -> Invite:
        code = await self.referrals.code_of(user_id)
        attempts = 0
        while code is None:
            if attempts == CODE_ATTEMPTS:
                # Five collisions in a row among 62^10 codes means the ids are not random.
                raise RuntimeError(f"no free invite code after {CODE_ATTEMPTS} attempts")
            attempts += 1
            code = await self.referrals.claim_code(user_id, self._new_code(), self.clock.now())
        return Invite(code, await self.referrals.stats(user_id))

    def _new_code(self) -> str:
        code = "".join(c for c in self.ids.secret() if c.isascii() and c.isalnum())
        if len(code) < CODE_LENGTH:
            raise ValueError("the ids' secrets are too short for an invite code")
        return code[:CODE_LENGTH]


@attrs.frozen
class Accepted:
    inviter_id: int
    invitee_bonus: int
    inviter_bonus: int


@attrs.define
class AcceptReferral:
    """Credit both sides when a user who has just registered came through an invite link.

    Only a user registered by this very /start counts (``new_user``): someone who used the bot
    before cannot attach themselves to a friend later. An unknown or malformed code, and the
    user's own code, are ignored: the caller greets as usual.

    The referral and both bonuses are one unit of work in ``ReferralsPort.record``, keyed on the
    invitee three times over (the referral's primary key and the two ledger keys), so a replayed
    /start pays nothing more. Registration happens before, in its own step: if the process dies
    between the two, the retried update finds a known user and the referral is not paid (money
    is paid at most once, never twice).
    """

    referrals: ReferralsPort
    clock: ClockPort
    inviter_bonus: int = 0
    invitee_bonus: int = 0

    def __attrs_post_init__(self) -> None:
        if self.inviter_bonus < 0 or self.invitee_bonus < 0:
            raise ValueError("referral bonuses are never negative")

    async def __call__(
        self, invitee_id: int, start_arg: str | None, *, new_user: bool
    ) -> Accepted | None:
        code = code_from(start_arg)
        if code is None or not new_user:
            return None
        inviter_id = await self.referrals.owner_of(code)
        if inviter_id is None or inviter_id == invitee_id:
            return None
        referral = Referral(
            invitee_id,
            inviter_id,
            self.clock.now(),
            inviter_bonus=self.inviter_bonus,
            invitee_bonus=self.invitee_bonus,
        )
        if not await self.referrals.record(referral, self.bonuses(referral)):
            return None
        return Accepted(inviter_id, referral.invitee_bonus, referral.inviter_bonus)

    @staticmethod
    def bonuses(referral: Referral) -> list[LedgerEntry]:
        entries = []
        if referral.invitee_bonus:
            entries.append(
                LedgerEntry(
                    invitee_key(referral.invitee_id),
                    referral.invitee_id,
                    EntryKind.BONUS,
                    amount=referral.invitee_bonus,
                    reason="referral: joined by invitation",
                )
            )
        if referral.inviter_bonus:
            entries.append(
                LedgerEntry(
                    inviter_key(referral.invitee_id),
                    referral.inviter_id,
                    EntryKind.BONUS,
                    amount=referral.inviter_bonus,
                    reason="referral: invited a friend",
                )
            )
        return entries


@attrs.frozen
class Referrals:
    """The referral use cases, as the Telegram handlers get them."""

    invite: ShowInvite
    accept: AcceptReferral
