"""InMemoryPayments: the PaymentsPort in dicts, crediting to an InMemoryStorage's ledger.

Like PostgreSQL's tables: one payment per charge id, at most one credited payment per
purchase, and a payment recorded together with its purchase's settlement and its credit or not
at all. No method awaits between its checks and its changes, so each is atomic on the event
loop.
"""

from __future__ import annotations

import attrs

from adapters.memory.storage import InMemoryStorage
from core.domain.errors import IdempotencyConflict
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


@attrs.frozen
class RecordedPayment:
    payment: StarsPayment
    refused: bool
    seq: int
    """Order of recording, the tie-break of ``payments_of`` as ``recorded_at`` is there."""


class InMemoryPayments(PaymentsPort):
    def __init__(self, storage: InMemoryStorage) -> None:
        self.storage = storage
        """Where the credits are posted: the ledger the rest of the bot reads."""
        self.purchases: dict[str, Purchase] = {}
        self.payments: dict[str, RecordedPayment] = {}
        """By charge id, like the table's primary key."""

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
