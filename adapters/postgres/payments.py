"""PostgresPayments: the PaymentsPort on ``purchases`` and ``stars_payments`` (migration 009).

A payment is stored, its purchase marked paid and its credit posted (``post_in``, the storage
adapter's own posting) in one transaction, so a payment is never credited unrecorded, recorded
as credited without the money, or credited twice.
"""

from __future__ import annotations

from typing import Any

import attrs
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.ledger import Conn, post_in
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


class PostgresPayments(PaymentsPort):
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
