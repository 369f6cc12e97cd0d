"""The append-only money ledger.

Each entry moves the posted balance (``amount``) and/or the held balance (``held``).
A hold is ``amount=0, held=+p``; its capture ``amount=-p, held=-p``; its release ``held=-p``.
So ``balance = Σ amount``, ``held = Σ held`` and ``available = balance - held``, and the
ledger alone is the truth: any cached balance must equal these sums.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs


class EntryKind(enum.StrEnum):
    TOPUP = "topup"
    BONUS = "bonus"
    ADJUST = "adjust"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    REFUND = "refund"


def hold_key(job_id: str) -> str:
    return f"hold:{job_id}"


def resolve_key(job_id: str) -> str:
    """Capture and release share one key, so a hold resolves exactly once."""
    return f"resolve:{job_id}"


@attrs.frozen
class LedgerEntry:
    key: str
    user_id: int
    kind: EntryKind
    amount: int = 0
    held: int = 0
    job_id: str | None = None
    reason: str | None = None
    created_at: datetime | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.amount, int) or not isinstance(self.held, int):
            raise TypeError("ledger amounts are integer minor units")
        if not self.key:
            raise ValueError("a ledger entry needs an idempotency key")

    def same_command(self, other: LedgerEntry) -> bool:
        """True when ``other`` replays this command (same key and same parameters)."""
        return self == other

    @property
    def debits_available(self) -> bool:
        """Whether applying this entry can lower the available balance."""
        return self.amount - self.held < 0


def hold(job_id: str, user_id: int, price: int) -> LedgerEntry:
    return LedgerEntry(hold_key(job_id), user_id, EntryKind.HOLD, held=price, job_id=job_id)


def capture(job_id: str, user_id: int, price: int) -> LedgerEntry:
    return LedgerEntry(
        resolve_key(job_id), user_id, EntryKind.CAPTURE, amount=-price, held=-price, job_id=job_id
    )


def release(job_id: str, user_id: int, price: int) -> LedgerEntry:
    return LedgerEntry(resolve_key(job_id), user_id, EntryKind.RELEASE, held=-price, job_id=job_id)


@attrs.frozen
class Balance:
    total: int
    held: int

    @property
    def available(self) -> int:
        return self.total - self.held

    @classmethod
    def of(cls, entries: list[LedgerEntry]) -> Balance:
        return cls(sum(e.amount for e in entries), sum(e.held for e in entries))
