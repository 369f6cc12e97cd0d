"""RefundsPort and StarsRefunderPort: giving a Stars payment back.

The reversal is written first — the refund record and the ledger entry that takes the credit
back, in one unit of work — and only then is Telegram asked to return the Stars; the request
is repeated until Telegram confirms (a charge it already refunded counts as confirmed). So the
user is never refunded twice, and a refund the bot recorded is never left unsent.

Policy for credit already spent: refused. A payment is refunded whole or not at all, and only
while the user's available balance still covers what it credited; the operator can adjust a
balance by hand otherwise.
"""

from __future__ import annotations

import abc
import enum
from datetime import datetime

import attrs


class RefundOutcome(enum.Enum):
    STARTED = "started"  # recorded now, the credit taken back; Telegram is asked next
    ALREADY = "already"  # this charge's refund was recorded before: nothing more
    SPENT = "spent"  # the credit is (partly) spent: refused, nothing changed
    NOT_FOUND = "not_found"  # no credited payment with this charge id


@attrs.frozen
class StarsRefund:
    charge_id: str
    user_id: int
    stars: int
    amount: int
    """What the payment credited and the refund took back, in minor units."""
    requested_by: int
    requested_at: datetime
    confirmed_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


def refund_key(charge_id: str) -> str:
    return f"stars-refund:{charge_id}"


class RefundsPort(abc.ABC):
    @abc.abstractmethod
    async def begin_refund(
        self, charge_id: str, requested_by: int, now: datetime
    ) -> tuple[RefundOutcome, StarsRefund | None]:
        """In one unit of work: the refund record (unique on the charge) and the REFUND ledger
        entry keyed ``refund_key(charge_id)`` taking back what the payment credited. ``SPENT``
        when the user's available balance is below that amount (nothing written);
        ``NOT_FOUND`` for an unknown or refused payment; ``ALREADY`` (with the record) for a
        charge whose refund exists."""

    @abc.abstractmethod
    async def confirm_refund(self, charge_id: str, now: datetime) -> StarsRefund | None:
        """Telegram returned the Stars: mark it (idempotent; the first time is kept)."""

    @abc.abstractmethod
    async def note_refund_attempt(self, charge_id: str, error: str | None) -> None:
        """One more request to Telegram, and why it failed (None: no error recorded)."""

    @abc.abstractmethod
    async def pending_refunds(self, limit: int = 50) -> list[StarsRefund]:
        """Recorded refunds Telegram has not confirmed yet, oldest first."""


class RefundAlreadyDone(Exception):
    """Telegram says this charge was refunded already: as good as a confirmation."""


class StarsRefunderPort(abc.ABC):
    @abc.abstractmethod
    async def refund(self, user_id: int, charge_id: str) -> None:
        """Ask Telegram to return the Stars. Raises ``RefundAlreadyDone`` when it already did,
        anything else when the request failed (to be repeated)."""
