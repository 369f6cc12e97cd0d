"""Parameter names and values in the user's language: the wizard never shows a schema name.

Every parameter has a ``param-<name>`` text. A value shows as ``value-<name>-<value>`` when
that text exists (words such as ``landscape``), switches as on/off, and anything else
(ratios, resolutions, numbers) as it is written.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from adapters.telegram.context import Tr
from core.domain.catalog import ParamSpec, ParamType

_IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]*")


def param_label(tr: Tr, spec: ParamSpec) -> str:
    return tr(f"param-{spec.name}")


def value_key(spec: ParamSpec, value: Any) -> str | None:
    """The text key of an enum value, when the value can be part of a key."""
    key = f"value-{spec.name}-{value}"
    return key if _IDENTIFIER.fullmatch(key) else None


def value_label(tr: Tr, spec: ParamSpec, value: Any) -> str:
    if spec.type is ParamType.BOOL:
        return tr("value-on") if value else tr("value-off")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    key = value_key(spec, value)
    if key is not None and tr.has(key):
        return tr(key)
    return str(value)


def number_presets(spec: ParamSpec) -> list[int | Decimal]:
    """Buttons for a number: its bounds, its default and the points halfway between (just
    the default when a bound is open: the rest is typed)."""
    default = Decimal(str(spec.default)) if spec.default is not None else None
    if spec.min is None or spec.max is None:
        return [] if default is None else [_as_type(spec, default)]
    low, high = Decimal(spec.min), Decimal(spec.max)
    if default is None:
        default = (low + high) / 2
    points = [low, (low + default) / 2, default, (default + high) / 2, high]
    return sorted({_as_type(spec, p) for p in points})


def _as_type(spec: ParamSpec, value: Decimal) -> int | Decimal:
    if spec.type is ParamType.INT:
        return int(value.to_integral_value())
    return value.quantize(Decimal("0.01")).normalize()


def choices(spec: ParamSpec) -> list[Any]:
    """What the step offers as buttons, in order."""
    if spec.type is ParamType.ENUM:
        return list(spec.choices)
    if spec.type is ParamType.BOOL:
        return [False, True]
    return list(number_presets(spec))
