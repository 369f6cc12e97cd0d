"""Quoting a model's price for the user's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from core.domain.catalog import Catalog, ModelSpec, Sku
from core.domain.ledger import Balance, LedgerEntry
from core.domain.money import Pricing
from core.ports.storage import StoragePort
from core.usecases.free_tier import FreeTier


@attrs.frozen
class Quote:
    model: ModelSpec
    sku: Sku
    params: Mapping[str, Any]
    price: int
    """What confirming takes from the balance now: 0 when it uses a free generation."""
    available: int
    free: bool = False
    """Confirming uses one of today's free generations (no money is held)."""
    free_left: int | None = None
    """Free generations left today, this one included, when the SKU is free and the free tier
    is on; None otherwise. 0 means the quota is used up and the SKU costs ``list_price``."""
    list_price: int = attrs.field(default=attrs.Factory(lambda self: self.price, takes_self=True))
    """The SKU's own price, what it costs once the free generations are used up."""

    @property
    def affordable(self) -> bool:
        return self.available >= self.price

    @property
    def balance_after(self) -> int:
        return self.available - self.price

    @property
    def missing(self) -> int:
        return max(0, self.price - self.available)


@attrs.define
class QuotePrice:
    catalog: Catalog
    pricing: Pricing
    storage: StoragePort
    free_tier: FreeTier | None = None

    async def __call__(self, user_id: int, model_id: str, raw: Mapping[str, Any]) -> Quote:
        model = self.catalog.get(model_id)
        params = model.validate(raw)
        sku = model.sku_for(params)
        balance = await self.storage.balance(user_id)
        list_price = sku.price_in(self.pricing)
        if self.free_tier is None or not self.free_tier.covers(sku):
            return Quote(model, sku, params, list_price, balance.available)
        # A hint for the screen: the confirmation itself decides again, atomically.
        left = await self.free_tier.left(user_id)
        free = left > 0
        return Quote(
            model,
            sku,
            params,
            0 if free else list_price,
            balance.available,
            free=free,
            free_left=left,
            list_price=list_price,
        )


@attrs.frozen
class BalanceView:
    balance: Balance
    recent: list[LedgerEntry]


@attrs.define
class ShowBalance:
    storage: StoragePort

    async def __call__(self, user_id: int, last: int = 5) -> BalanceView:
        return BalanceView(
            await self.storage.balance(user_id), await self.storage.entries(user_id, last)
        )
