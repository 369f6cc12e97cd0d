"""PostgresPayments: the PaymentsPort on ``purchases`` and ``stars_payments`` (migration 009),
and the RefundsPort on ``stars_refunds`` (migration 010).

A payment is stored, its purchase marked paid and its credit posted (``post_in``, the storage
adapter's own posting) in one transaction, so a payment is never credited unrecorded, recorded
as credited without the money, or credited twice. A refund is recorded and its credit taken
back in one transaction the same way, so a refund is never recorded without the reversal, nor
reversed twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.ledger import Conn, post_in
from core.domain.errors import InsufficientFunds
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

CREATE_PURCHASE = """
INSERT INTO purchases (id, user_id, stars, amount, status, created_at, invoice_message_id)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""
GET_PURCHASE = "SELECT * FROM purchases WHERE id = %s"
LOCK_PURCHASE = "SELECT * FROM purchases WHERE id = %s FOR UPDATE"
SET_INVOICE = "UPDATE purchases SET invoice_message_id = %s WHERE id = %s"
MARK_PAID = "UPDATE purchases SET status = 'paid', paid_at = %s WHERE id = %s"
# purchase_id is the purchase when one has the payload's id (NULL otherwise, for the foreign
# key); the payload itself is kept either way, for the operator.
RECORD_PAYMENT = """
INSERT INTO stars_payments (charge_id, payload, purchase_id, user_id, stars, currency,
                            provider_charge_id, paid_at, refused)
VALUES (%(charge_id)s, %(payload)s, %(purchase_id)s, %(user_id)s, %(stars)s, %(currency)s,
        %(provider_charge_id)s, %(paid_at)s, %(refused)s)
ON CONFLICT (charge_id) DO NOTHING
RETURNING charge_id
"""
PAYLOAD_OF = "SELECT payload FROM stars_payments WHERE charge_id = %s"
PAYMENTS_OF = """
SELECT * FROM stars_payments WHERE user_id = %s
ORDER BY paid_at DESC, recorded_at DESC, charge_id DESC
LIMIT %s
"""

# Refunds. The payment row is locked first, so refunds of one charge queue there and each one
# after the first finds the refund row the first one committed.
LOCK_PAYMENT = """
SELECT charge_id, purchase_id, user_id, stars FROM stars_payments
WHERE charge_id = %s AND NOT refused
FOR UPDATE
"""
GET_REFUND = "SELECT * FROM stars_refunds WHERE charge_id = %s"
INSERT_REFUND = """
INSERT INTO stars_refunds (charge_id, user_id, stars, amount, requested_by, requested_at)
VALUES (%s, %s, %s, %s, %s, %s)
RETURNING *
"""
CONFIRM_REFUND = """
UPDATE stars_refunds SET confirmed_at = COALESCE(confirmed_at, %s)
WHERE charge_id = %s
RETURNING *
"""
NOTE_ATTEMPT = """
UPDATE stars_refunds SET attempts = attempts + 1, last_error = %s WHERE charge_id = %s
"""
PENDING_REFUNDS = """
SELECT * FROM stars_refunds WHERE confirmed_at IS NULL
ORDER BY requested_at, charge_id
LIMIT %s
"""


def _refund(row: dict[str, Any]) -> StarsRefund:
    return StarsRefund(
        charge_id=row["charge_id"],
        user_id=row["user_id"],
        stars=row["stars"],
        amount=row["amount"],
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        confirmed_at=row["confirmed_at"],
        attempts=row["attempts"],
        last_error=row["last_error"],
    )


def _purchase(row: dict[str, Any]) -> Purchase:
    return Purchase(
        id=row["id"],
        user_id=row["user_id"],
        stars=row["stars"],
        amount=row["amount"],
        status=PurchaseStatus(row["status"]),
        created_at=row["created_at"],
        invoice_message_id=row["invoice_message_id"],
    )


def _payment(row: dict[str, Any]) -> StarsPayment:
    return StarsPayment(
        charge_id=row["charge_id"],
        purchase_id=row["payload"],
        user_id=row["user_id"],
        stars=row["stars"],
        currency=row["currency"],
        paid_at=row["paid_at"],
        provider_charge_id=row["provider_charge_id"],
    )


class PostgresPayments(PaymentsPort, RefundsPort):
    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self.pool = pool

    async def create_purchase(self, purchase: Purchase) -> None:
        params = (
            purchase.id,
            purchase.user_id,
            purchase.stars,
            purchase.amount,
            purchase.status.value,
            purchase.created_at,
            purchase.invoice_message_id,
        )
        async with self.pool.connection() as conn:
            if await (await conn.execute(CREATE_PURCHASE, params)).fetchone() is None:
                raise ValueError(f"purchase {purchase.id!r} exists already")

    async def get_purchase(self, purchase_id: str) -> Purchase | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(GET_PURCHASE, (purchase_id,))).fetchone()
        return None if row is None else _purchase(row)

    async def set_invoice_message(self, purchase_id: str, message_id: int) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(SET_INVOICE, (message_id, purchase_id))

    async def record_payment(self, payment: StarsPayment) -> tuple[CreditOutcome, Purchase | None]:
        async with self.pool.connection() as conn, conn.transaction():
            # The purchase row is locked before the payment is inserted: the insert's foreign
            # key check share-locks that row, and two transactions holding that share lock
            # would deadlock asking for FOR UPDATE. Locked first, charges of one purchase
            # queue here, and each one after the first reads it paid and is refused.
            row = await (await conn.execute(LOCK_PURCHASE, (payment.purchase_id,))).fetchone()
            purchase = None if row is None else _purchase(row)
            ok = settles(purchase, payment)
            params = {
                "charge_id": payment.charge_id,
                "payload": payment.purchase_id,
                "purchase_id": None if purchase is None else purchase.id,
                "user_id": payment.user_id,
                "stars": payment.stars,
                "currency": payment.currency,
                "provider_charge_id": payment.provider_charge_id,
                "paid_at": payment.paid_at,
                "refused": not ok,
            }
            # The charge id's primary key decides duplicates: a second delivery of one charge
            # waits for the first one's transaction, then inserts nothing.
            if await (await conn.execute(RECORD_PAYMENT, params)).fetchone() is None:
                # Answered with the purchase the first delivery named, not this one's claim.
                first = await (await conn.execute(PAYLOAD_OF, (payment.charge_id,))).fetchone()
                assert first is not None  # recorded rows are never deleted
                row = await (await conn.execute(GET_PURCHASE, (first["payload"],))).fetchone()
                purchase = None if row is None else _purchase(row)
                return CreditOutcome.DUPLICATE, shown_to(purchase, payment.user_id)
            if purchase is None or not ok:
                return CreditOutcome.REFUSED, shown_to(purchase, payment.user_id)
            await conn.execute(MARK_PAID, (payment.paid_at, purchase.id))
            # Lock order: the purchase row, then the user's balance row (in post_in); nothing
            # takes them the other way round. An error rolls the payment back with the entry.
            await post_in(conn, credit_entry(payment, purchase))
        return CreditOutcome.CREDITED, attrs.evolve(purchase, status=PurchaseStatus.PAID)

    async def payments_of(self, user_id: int, limit: int = 20) -> list[StarsPayment]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(PAYMENTS_OF, (user_id, limit))).fetchall()
        return [_payment(row) for row in rows]

    async def begin_refund(
        self, charge_id: str, requested_by: int, now: datetime
    ) -> tuple[RefundOutcome, StarsRefund | None]:
        try:
            async with self.pool.connection() as conn, conn.transaction():
                # Lock order: the payment row, then the user's balance row (in post_in), the
                # same direction as record_payment's purchase row then balance row.
                paid = await (await conn.execute(LOCK_PAYMENT, (charge_id,))).fetchone()
                if paid is None:
                    return RefundOutcome.NOT_FOUND, None
                row = await (await conn.execute(GET_REFUND, (charge_id,))).fetchone()
                if row is not None:
                    return RefundOutcome.ALREADY, _refund(row)
                bought = await (
                    await conn.execute(GET_PURCHASE, (paid["purchase_id"],))
                ).fetchone()
                assert bought is not None  # a credited payment always names its purchase
                amount = int(bought["amount"])
                entry = LedgerEntry(
                    refund_key(charge_id),
                    paid["user_id"],
                    EntryKind.REFUND,
                    amount=-amount,
                    reason=f"Stars refund {charge_id}",
                )
                # Refused when the available balance no longer covers the credit; raising here
                # rolls the whole transaction back, so nothing is written.
                await post_in(conn, entry)
                params = (charge_id, paid["user_id"], paid["stars"], amount, requested_by, now)
                row = await (await conn.execute(INSERT_REFUND, params)).fetchone()
                assert row is not None
                return RefundOutcome.STARTED, _refund(row)
        except InsufficientFunds:
            return RefundOutcome.SPENT, None

    async def confirm_refund(self, charge_id: str, now: datetime) -> StarsRefund | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(CONFIRM_REFUND, (now, charge_id))).fetchone()
        return None if row is None else _refund(row)

    async def note_refund_attempt(self, charge_id: str, error: str | None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(NOTE_ATTEMPT, (error, charge_id))

    async def pending_refunds(self, limit: int = 50) -> list[StarsRefund]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(PENDING_REFUNDS, (limit,))).fetchall()
        return [_refund(row) for row in rows]
