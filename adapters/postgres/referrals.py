"""PostgresReferrals: the ReferralsPort on ``referral_codes`` and ``referrals`` (migration 007).

Recording a referral shares a transaction with the ledger entries that pay it (``post_in``,
the storage adapter's own posting), so a referral is never recorded unpaid or paid unrecorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from adapters.postgres.ledger import Conn, post_in
from core.domain.ledger import LedgerEntry
from core.ports.referrals import Referral, ReferralsPort, ReferralStats

# No conflict target: a clash on either the user or the code inserts nothing, and the look-up
# below tells the two apart.
CLAIM_CODE = """
INSERT INTO referral_codes (user_id, code, created_at) VALUES (%s, %s, %s)
ON CONFLICT DO NOTHING
RETURNING code
"""
CODE_OF = "SELECT code FROM referral_codes WHERE user_id = %s"
OWNER_OF = "SELECT user_id FROM referral_codes WHERE code = %s"
RECORD = """
INSERT INTO referrals (invitee_id, inviter_id, created_at, inviter_bonus, invitee_bonus)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (invitee_id) DO NOTHING
RETURNING invitee_id
"""
INVITER_OF = "SELECT * FROM referrals WHERE invitee_id = %s"
STATS = """
SELECT count(*) AS invited, coalesce(sum(inviter_bonus), 0) AS earned
FROM referrals WHERE inviter_id = %s
"""


def _referral(row: dict[str, Any]) -> Referral:
    return Referral(
        row["invitee_id"],
        row["inviter_id"],
        row["created_at"],
        inviter_bonus=row["inviter_bonus"],
        invitee_bonus=row["invitee_bonus"],
    )


class PostgresReferrals(ReferralsPort):
    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self.pool = pool

    async def _one(self, query: str, params: Any) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            return await (await conn.execute(query, params)).fetchone()

    async def claim_code(self, user_id: int, code: str, now: datetime) -> str | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(CLAIM_CODE, (user_id, code, now))).fetchone()
            if row is None:
                row = await (await conn.execute(CODE_OF, (user_id,))).fetchone()
        return None if row is None else str(row["code"])

    async def code_of(self, user_id: int) -> str | None:
        row = await self._one(CODE_OF, (user_id,))
        return None if row is None else str(row["code"])

    async def owner_of(self, code: str) -> int | None:
        row = await self._one(OWNER_OF, (code,))
        return None if row is None else int(row["user_id"])

    async def record(self, referral: Referral, bonuses: Sequence[LedgerEntry]) -> bool:
        params = (
            referral.invitee_id,
            referral.inviter_id,
            referral.created_at,
            referral.inviter_bonus,
            referral.invitee_bonus,
        )
        async with self.pool.connection() as conn, conn.transaction():
            if await (await conn.execute(RECORD, params)).fetchone() is None:
                return False  # the invitee already has an inviter: nothing more to do
            # Balance rows are locked in user order, so two referrals touching the same two
            # users cannot deadlock. An error rolls the referral back with the entries.
            for entry in sorted(bonuses, key=lambda e: e.user_id):
                await post_in(conn, entry)
        return True

    async def inviter_of(self, invitee_id: int) -> Referral | None:
        row = await self._one(INVITER_OF, (invitee_id,))
        return None if row is None else _referral(row)

    async def stats(self, inviter_id: int) -> ReferralStats:
        row = await self._one(STATS, (inviter_id,))
        assert row is not None  # an aggregate always yields one row
        return ReferralStats(int(row["invited"]), int(row["earned"]))
