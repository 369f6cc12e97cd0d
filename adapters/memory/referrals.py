"""InMemoryReferrals: the ReferralsPort in dicts, posting bonuses to an InMemoryStorage.

Like PostgreSQL's tables: one code per user and one user per code, one inviter per invitee,
and a referral recorded together with its bonuses or not at all. No method awaits between
its checks and its changes, so each is atomic on the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from adapters.memory.storage import InMemoryStorage
from core.domain.errors import IdempotencyConflict, InsufficientFunds
from core.domain.ledger import LedgerEntry
from core.ports.referrals import Referral, ReferralsPort, ReferralStats


class InMemoryReferrals(ReferralsPort):
    def __init__(self, storage: InMemoryStorage) -> None:
        self.storage = storage
        """Where the bonuses are posted: the ledger the rest of the bot reads."""
        self.codes: dict[int, str] = {}
        self._owners: dict[str, int] = {}
        self.referrals: dict[int, Referral] = {}

    async def claim_code(self, user_id: int, code: str, now: datetime) -> str | None:
        existing = self.codes.get(user_id)
        if existing is not None:
            return existing
        if code in self._owners:
            return None
        self.codes[user_id] = code
        self._owners[code] = user_id
        return code

    async def code_of(self, user_id: int) -> str | None:
        return self.codes.get(user_id)

    async def owner_of(self, code: str) -> int | None:
        return self._owners.get(code)

    async def record(self, referral: Referral, bonuses: Sequence[LedgerEntry]) -> bool:
        if referral.invitee_id in self.referrals:
            return False
        # Everything that could refuse an entry is checked before anything changes, so a
        # refusal leaves no referral and no entry behind, as a rolled-back transaction does.
        seen: dict[str, LedgerEntry] = {}
        available: dict[int, int] = {}
        for entry in bonuses:
            previous = seen.get(entry.key) or self.storage._by_key.get(entry.key)
            if previous is not None:
                if not previous.same_command(entry):
                    raise IdempotencyConflict(entry.key)
                continue
            seen[entry.key] = entry
            user = entry.user_id
            if user not in available:
                available[user] = self.storage._balance(user).available
            after = available[user] + entry.amount - entry.held
            if entry.debits_available and after < 0:
                raise InsufficientFunds(available[user], entry.held - entry.amount)
            available[user] = after
        self.referrals[referral.invitee_id] = referral
        for entry in bonuses:
            self.storage._post(entry)
        return True

    async def inviter_of(self, invitee_id: int) -> Referral | None:
        return self.referrals.get(invitee_id)

    async def stats(self, inviter_id: int) -> ReferralStats:
        mine = [r for r in self.referrals.values() if r.inviter_id == inviter_id]
        return ReferralStats(len(mine), sum(r.inviter_bonus for r in mine))
