"""Quoting a model's price for the user's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from core.domain.catalog import Catalog, ModelSpec, Sku
from core.domain.ledger import Balance, LedgerEntry
from core.domain.money import Pricing
from core.ports.storage import StoragePort


@attrs.frozen
class Quote:
    model: ModelSpec
    sku: Sku
    params: Mapping[str, Any]
    price: int
    available: int

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

    async def __call__(self, user_id: int, model_id: str, raw: Mapping[str, Any]) -> Quote:
        model = self.catalog.get(model_id)
        params = model.validate(raw)
        sku = model.sku_for(params)
        balance = await self.storage.balance(user_id)
        return Quote(model, sku, params, sku.price_in(self.pricing), balance.available)


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
