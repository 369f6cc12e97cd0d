"""InMemoryPayments: the PaymentsPort and RefundsPort in dicts, on an InMemoryStorage's ledger.

Like PostgreSQL's tables: one payment per charge id, at most one credited payment per
purchase, at most one refund per credited payment, and a payment (or a refund) recorded
together with its purchase's settlement and its credit (or its reversal) or not at all. No
method awaits between its checks and its changes, so each is atomic on the event
loop.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from adapters.memory.storage import InMemoryStorage
from core.domain.errors import IdempotencyConflict
from core.domain.ledger import EntryKind, LedgerEntry
from core.ports.payments import (
    CreditOutcome,
    PaymentsPort,
    Purchase,
    PurchaseStatus,
    StarsPayment,
    credit_entry,
    settles,
    shown_to,
)
from core.ports.refunds import RefundOutcome, RefundsPort, StarsRefund, refund_key


@attrs.frozen
class RecordedPayment:
    payment: StarsPayment
    refused: bool
    seq: int
    """Order of recording, the tie-break of ``payments_of`` as ``recorded_at`` is there."""


class InMemoryPayments(PaymentsPort, RefundsPort):
    def __init__(self, storage: InMemoryStorage) -> None:
        self.storage = storage
        """Where the credits are posted: the ledger the rest of the bot reads."""
        self.purchases: dict[str, Purchase] = {}
        self.payments: dict[str, RecordedPayment] = {}
        """By charge id, like the table's primary key."""
        self.refunds: dict[str, StarsRefund] = {}
        """By charge id: one refund per payment, like ``stars_refunds``' primary key."""

    async def create_purchase(self, purchase: Purchase) -> None:
        if purchase.id in self.purchases:
            raise ValueError(f"purchase {purchase.id!r} exists already")
        if purchase.user_id not in self.storage.users:
            raise ValueError(f"no user {purchase.user_id}")  # the table's foreign key
        self.purchases[purchase.id] = purchase

    async def get_purchase(self, purchase_id: str) -> Purchase | None:
        return self.purchases.get(purchase_id)

    async def set_invoice_message(self, purchase_id: str, message_id: int) -> None:
        purchase = self.purchases.get(purchase_id)
        if purchase is not None:
            self.purchases[purchase_id] = attrs.evolve(purchase, invoice_message_id=message_id)

    async def record_payment(self, payment: StarsPayment) -> tuple[CreditOutcome, Purchase | None]:
        first = self.payments.get(payment.charge_id)
        if first is not None:
            purchase = self.purchases.get(first.payment.purchase_id)
            return CreditOutcome.DUPLICATE, shown_to(purchase, payment.user_id)
        purchase = self.purchases.get(payment.purchase_id)
        if purchase is None or not settles(purchase, payment):
            self.payments[payment.charge_id] = RecordedPayment(payment, True, len(self.payments))
            return CreditOutcome.REFUSED, shown_to(purchase, payment.user_id)
        # Checked before anything changes, so a refused credit leaves no payment and no settled
        # purchase behind, as a rolled-back transaction does.
        entry = credit_entry(payment, purchase)
        previous = self.storage._by_key.get(entry.key)
        if previous is not None and not previous.same_command(entry):
            raise IdempotencyConflict(entry.key)
        self.payments[payment.charge_id] = RecordedPayment(payment, False, len(self.payments))
        paid = attrs.evolve(purchase, status=PurchaseStatus.PAID)
        self.purchases[purchase.id] = paid
        self.storage._post(entry)
        return CreditOutcome.CREDITED, paid

    async def payments_of(self, user_id: int, limit: int = 20) -> list[StarsPayment]:
        mine = [r for r in self.payments.values() if r.payment.user_id == user_id]
        mine.sort(key=lambda r: (r.payment.paid_at, r.seq), reverse=True)
        return [r.payment for r in mine[:limit]]

    def refused(self, charge_id: str) -> bool | None:
        """Whether the charge was recorded as refused (None: never recorded)."""
        recorded = self.payments.get(charge_id)
        return None if recorded is None else recorded.refused

    async def begin_refund(
        self, charge_id: str, requested_by: int, now: datetime
    ) -> tuple[RefundOutcome, StarsRefund | None]:
        recorded = self.payments.get(charge_id)
        if recorded is None or recorded.refused:
            return RefundOutcome.NOT_FOUND, None
        existing = self.refunds.get(charge_id)
        if existing is not None:
            return RefundOutcome.ALREADY, existing
        paid = recorded.payment
        purchase = self.purchases[paid.purchase_id]  # a credited payment names its purchase
        entry = LedgerEntry(
            refund_key(charge_id),
            paid.user_id,
            EntryKind.REFUND,
            amount=-purchase.amount,
            reason=f"Stars refund {charge_id}",
        )
        # Everything is checked before anything changes, as the transaction rolls back: a key
        # clash or a spent credit leaves neither an entry nor a refund record.
        previous = self.storage._by_key.get(entry.key)
        if previous is not None and not previous.same_command(entry):
            raise IdempotencyConflict(entry.key)
        if previous is None and self.storage._balance(paid.user_id).available < purchase.amount:
            return RefundOutcome.SPENT, None
        self.storage._post(entry)
        refund = StarsRefund(
            charge_id=charge_id,
            user_id=paid.user_id,
            stars=paid.stars,
            amount=purchase.amount,
            requested_by=requested_by,
            requested_at=now,
        )
        self.refunds[charge_id] = refund
        return RefundOutcome.STARTED, refund

    async def confirm_refund(self, charge_id: str, now: datetime) -> StarsRefund | None:
        refund = self.refunds.get(charge_id)
        if refund is None or refund.confirmed_at is not None:
            return refund
        confirmed = attrs.evolve(refund, confirmed_at=now)
        self.refunds[charge_id] = confirmed
        return confirmed

    async def note_refund_attempt(self, charge_id: str, error: str | None) -> None:
        refund = self.refunds.get(charge_id)
        if refund is not None:
            self.refunds[charge_id] = attrs.evolve(
                refund, attempts=refund.attempts + 1, last_error=error
            )

    async def pending_refunds(self, limit: int = 50) -> list[StarsRefund]:
        pending = [r for r in self.refunds.values() if r.confirmed_at is None]
        pending.sort(key=lambda r: (r.requested_at, r.charge_id))
        return pending[:limit]
