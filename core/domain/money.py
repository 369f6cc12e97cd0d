"""Integer minor-unit money and the SKU price formula."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import attrs


def _non_negative(_: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class Pricing:
    """Turns Kie.ai credits into the billing currency's minor units.

    Rates are Decimals parsed from configuration strings, so no float ever touches money.
    """

    currency: str = "RUB"
    minor_per_unit: int = 100
    credit_usd: Decimal = attrs.field(default=Decimal("0.005"), validator=_non_negative)
    fx_rate: Decimal = attrs.field(default=Decimal("95"), validator=_non_negative)
    markup: Decimal = attrs.field(default=Decimal("2"), validator=_non_negative)

    def price_of_credits(self, credits: Decimal) -> int:
        """Credits × credit USD price × FX rate × markup, rounded up to the minor unit."""
        exact = credits * self.credit_usd * self.fx_rate * self.markup * self.minor_per_unit
        return int(exact.to_integral_value(rounding=ROUND_CEILING))

    def format(self, minor: int) -> str:
        sign = "-" if minor < 0 else ""
        units, cents = divmod(abs(minor), self.minor_per_unit)
        width = len(str(self.minor_per_unit - 1))
        return f"{sign}{units}.{cents:0{width}d} {self.currency}"
