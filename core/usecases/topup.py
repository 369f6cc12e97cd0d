"""Topping up with Telegram Stars: a purchase before the invoice, a check before the payment,
one credit per payment."""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from core.ports.clock import ClockPort, IdsPort
from core.ports.payments import (
    STARS_CURRENCY,
    CreditOutcome,
    PaymentsPort,
    Purchase,
    PurchaseStatus,
    StarsPayment,
)

STARS = STARS_CURRENCY


@attrs.frozen
class StarsOffer:
    """What one Star buys, and what may be bought at once."""

    minor_per_star: int
    """Balance minor units credited per Star."""
    presets: Sequence[int] = (50, 100, 250, 500, 1000)
    min_stars: int = 1
    max_stars: int = 10_000

    def __attrs_post_init__(self) -> None:
        # A preset outside the bounds would be a button whose every press is refused.
        if self.minor_per_star < 1:
            raise ValueError("a Star credits at least one minor unit")
        if not 1 <= self.min_stars <= self.max_stars:
            raise ValueError("the Stars bounds need 1 <= min <= max")
        outside = [p for p in self.presets if not self.min_stars <= p <= self.max_stars]
        if outside:
            raise ValueError(f"presets {outside} are outside {self.min_stars}..{self.max_stars}")

    def amount_of(self, stars: int) -> int:
        return stars * self.minor_per_star


class TopUpError(Exception):
    """The amount the user asked for cannot be bought (outside the bounds)."""


@attrs.define
class StartTopUp:
    payments: PaymentsPort
    offer: StarsOffer
    clock: ClockPort
    ids: IdsPort

    async def __call__(self, user_id: int, stars: int) -> Purchase:
        if not self.offer.min_stars <= stars <= self.offer.max_stars:
            raise TopUpError(f"between {self.offer.min_stars} and {self.offer.max_stars} Stars")
        purchase = Purchase(
            id=self.ids.secret(),
            user_id=user_id,
            stars=stars,
            amount=self.offer.amount_of(stars),
            status=PurchaseStatus.OPEN,
            created_at=self.clock.now(),
        )
        await self.payments.create_purchase(purchase)
        return purchase


class PreCheckout(enum.Enum):
    OK = "ok"
    UNKNOWN = "unknown"  # no such purchase, or someone else's
    PAID = "paid"  # already paid: a second payment of one invoice is refused
    CHANGED = "changed"  # the amount or currency is not the purchase's (a stale invoice)


@attrs.define
class CheckPreCheckout:
    """Whether Telegram may take the user's Stars for this invoice (answered within 10 s)."""

    payments: PaymentsPort

    async def __call__(
        self, user_id: int, purchase_id: str, currency: str, total_amount: int
    ) -> PreCheckout:
        purchase = await self.payments.get_purchase(purchase_id)
        if purchase is None or purchase.user_id != user_id:
            return PreCheckout.UNKNOWN
        if purchase.status is not PurchaseStatus.OPEN:
            return PreCheckout.PAID
        if currency != STARS or total_amount != purchase.stars:
            return PreCheckout.CHANGED
        return PreCheckout.OK


@attrs.define
class CreditStarsPayment:
    payments: PaymentsPort

    async def __call__(self, payment: StarsPayment) -> tuple[CreditOutcome, Purchase | None]:
        return await self.payments.record_payment(payment)
