"""PaymentsPort: Telegram Stars purchases and the payments that settle them.

A purchase is created before its invoice is sent, and the invoice carries only the purchase's
opaque id. The payment that settles it is recorded with the ledger entry that credits the
balance in one unit of work, unique on Telegram's charge id, so a ``successful_payment``
delivered twice credits once.
"""

from __future__ import annotations

import abc
import enum
from datetime import datetime

import attrs

from core.domain.ledger import EntryKind, LedgerEntry

STARS_CURRENCY = "XTR"
"""The currency code of Telegram Stars: a payment in any other currency settles nothing."""


class PurchaseStatus(enum.StrEnum):
    OPEN = "open"  # invoice sent, not paid
    PAID = "paid"  # settled by one payment


@attrs.frozen
class Purchase:
    id: str
    """Opaque and unguessable: the invoice payload."""
    user_id: int
    stars: int
    """What the invoice asks, in whole Stars."""
    amount: int
    """What the payment credits, in the balance's minor units (at the rate of the moment)."""
    status: PurchaseStatus
    created_at: datetime
    invoice_message_id: int | None = None
    """The invoice message in the user's chat, deleted once it is paid."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.stars, int) or self.stars < 1:
            raise ValueError("a purchase is at least one Star")
        if not isinstance(self.amount, int) or self.amount < 1:
            raise ValueError("a purchase credits a positive amount in minor units")


@attrs.frozen
class StarsPayment:
    """A ``successful_payment`` as Telegram reported it."""

    charge_id: str
    """``telegram_payment_charge_id``: unique per payment, the key of the credit."""
    purchase_id: str
    user_id: int
    stars: int
    currency: str
    paid_at: datetime
    provider_charge_id: str = ""


class CreditOutcome(enum.Enum):
    CREDITED = "credited"  # recorded now, the balance credited
    DUPLICATE = "duplicate"  # this charge was recorded before: nothing more
    REFUSED = "refused"  # no such open purchase of this user for this many Stars (recorded
    # for the operator, nothing credited)


def stars_key(charge_id: str) -> str:
    """The idempotency key of a payment's credit: one charge, one entry."""
    return f"stars:{charge_id}"


def settles(purchase: Purchase | None, payment: StarsPayment) -> bool:
    """Whether ``payment`` is exactly what the open ``purchase`` asks for; both adapters
    decide with this, so they cannot disagree on what is refused."""
    return (
        purchase is not None
        and purchase.status is PurchaseStatus.OPEN
        and purchase.user_id == payment.user_id
        and purchase.stars == payment.stars
        and payment.currency == STARS_CURRENCY
    )


def credit_entry(payment: StarsPayment, purchase: Purchase) -> LedgerEntry:
    """The TOPUP that a payment settling ``purchase`` posts."""
    return LedgerEntry(
        stars_key(payment.charge_id),
        payment.user_id,
        EntryKind.TOPUP,
        amount=purchase.amount,
        reason=f"Stars purchase {purchase.id}",
    )


def shown_to(purchase: Purchase | None, user_id: int) -> Purchase | None:
    """The purchase as ``record_payment`` returns it to the payer: not someone else's."""
    return purchase if purchase is not None and purchase.user_id == user_id else None


class PaymentsPort(abc.ABC):
    @abc.abstractmethod
    async def create_purchase(self, purchase: Purchase) -> None:
        """Store a new open purchase (its id is new)."""

    @abc.abstractmethod
    async def get_purchase(self, purchase_id: str) -> Purchase | None: ...

    @abc.abstractmethod
    async def set_invoice_message(self, purchase_id: str, message_id: int) -> None: ...

    @abc.abstractmethod
    async def record_payment(self, payment: StarsPayment) -> tuple[CreditOutcome, Purchase | None]:
        """In one unit of work: the payment (unique on ``charge_id``), the purchase marked
        paid, and the TOPUP ledger entry keyed ``stars:<charge_id>`` for the purchase's
        amount. A charge seen before changes nothing (``DUPLICATE``). A payment that matches
        no open purchase of ``user_id`` for ``stars`` Stars in ``STARS_CURRENCY`` is kept as
        refused (so the operator sees and can refund it) and credits nothing.

        The purchase returned is the one the payment names, as it stands after the call, when
        it exists and is ``user_id``'s; otherwise None (another user's purchase is not
        shown to this one)."""

    @abc.abstractmethod
    async def payments_of(self, user_id: int, limit: int = 20) -> list[StarsPayment]:
        """The user's recorded payments, newest first."""
