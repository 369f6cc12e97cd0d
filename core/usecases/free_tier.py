"""The free tier: a few generations a day on the SKUs the catalog marks ``free``.

Days are UTC days, so every user's quota refills at the same moment, 00:00 UTC, whatever the
server's or the user's time zone. The quota is taken and given back by the storage, in the
units of work that create a job and release its hold (``FreeQuotaPort``); this module decides
when to ask for it and reads it for the confirmation and the Free screen.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import attrs

from core.domain.catalog import Catalog, ModelSpec, Sku
from core.ports.clock import ClockPort
from core.ports.free_quota import FreeClaim, FreeQuotaPort


def utc_day(now: datetime) -> date:
    """The UTC day ``now`` falls in; a naive time is refused, its day would be a guess."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the free tier counts UTC days and needs an aware time")
    return now.astimezone(UTC).date()


def refills_at(now: datetime) -> datetime:
    """The next 00:00 UTC after ``now``: when the day's uses stop counting."""
    return datetime.combine(utc_day(now) + timedelta(days=1), time(0), tzinfo=UTC)


@attrs.define
class FreeTier:
    """The quota policy: ``daily_quota`` free generations per user and UTC day (0: none)."""

    storage: FreeQuotaPort
    clock: ClockPort
    daily_quota: int = attrs.field(default=0)

    @daily_quota.validator
    def _not_negative(self, _attribute: object, value: int) -> None:
        if value < 0:
            raise ValueError("the daily free quota is at least 0")

    @property
    def enabled(self) -> bool:
        return self.daily_quota > 0

    def covers(self, sku: Sku) -> bool:
        """Whether a confirmation of this SKU may be free (when the user has uses left)."""
        return self.enabled and sku.free

    def claim(self, now: datetime) -> FreeClaim:
        return FreeClaim(utc_day(now), self.daily_quota)

    async def left(self, user_id: int, now: datetime | None = None) -> int:
        """Free generations the user has left today."""
        if not self.enabled:
            return 0
        day = utc_day(now or self.clock.now())
        return max(0, self.daily_quota - await self.storage.free_used(user_id, day))


def free_models(catalog: Catalog) -> list[ModelSpec]:
    """The visible models with at least one free SKU, in catalog order."""
    return [m for m in catalog.visible() if any(s.free for s in m.skus)]


@attrs.frozen
class FreeTierView:
    quota: int
    left: int
    refills_at: datetime
    models: list[ModelSpec]

    @property
    def enabled(self) -> bool:
        """False when the quota is 0 or no model is free: there is nothing to offer."""
        return self.quota > 0 and bool(self.models)


@attrs.define
class ShowFreeTier:
    """The Free screen: how many free generations are left today and on which models."""

    free_tier: FreeTier
    catalog: Catalog

    async def __call__(self, user_id: int) -> FreeTierView:
        now = self.free_tier.clock.now()
        models = free_models(self.catalog) if self.free_tier.enabled else []
        return FreeTierView(
            quota=self.free_tier.daily_quota,
            left=await self.free_tier.left(user_id, now),
            refills_at=refills_at(now),
            models=models,
        )
