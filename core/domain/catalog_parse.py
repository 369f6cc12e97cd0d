"""Builds a Catalog from plain data (parsed TOML), naming the model and field of any error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs

from core.domain.catalog import (
    Catalog,
    Category,
    CategoryTimes,
    MediaKind,
    ModelSpec,
    ParamSpec,
    ParamType,
    Sku,
    when_key,
)
from core.domain.errors import CatalogError, InvalidParams

_MODEL_KEYS = {"id", "kie_model", "title", "category", "output", "description", "hidden"}
_MODEL_KEYS |= {"params", "skus", "fixed", "typical_minutes"}
_PARAM_KEYS = {"name", "type", "required", "default", "choices", "min", "max", "max_length"}
_PARAM_KEYS |= {"media", "max_items", "kie_name", "as_list", "max_mb", "accept", "as_number"}
E = TypeVar("E", Category, ParamType, MediaKind)

_SKU_KEYS = {"id", "credits", "when", "price", "free"}


class _Entry:
    def __init__(self, model_id: str, raw: Mapping[str, Any], where: str = "") -> None:
        self.model_id = model_id
        self.raw = raw
        self.where = where

    def fail(self, field: str, problem: str) -> CatalogError:
        return CatalogError(self.model_id, f"{self.where}{field}", problem)

    def check_keys(self, allowed: set[str]) -> None:
        extra = sorted(set(self.raw) - allowed)
        if extra:
            raise self.fail(extra[0], "is not a known field")

    def text(self, field: str, default: str | None = None) -> str:
        value = self.raw.get(field, default)
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise self.fail(field, "must be a non-empty string")
        return value

    def choice(self, field: str, enum: type[E]) -> E:
        value = self.raw.get(field)
        try:
            return enum(str(value))
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            raise self.fail(field, f"{value!r} is not one of {allowed}") from None

    def flag(self, field: str) -> bool:
        value = self.raw.get(field, False)
        if not isinstance(value, bool):
            raise self.fail(field, "must be true or false")
        return value

    def count(self, field: str, default: int | None, minimum: int = 0) -> int | None:
        value = self.raw.get(field, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(field, f"must be a whole number ≥ {minimum}")
        return value

    def decimal(self, field: str, required: bool = False) -> Decimal | None:
        value = self.raw.get(field)
        if value is None:
            if required:
                raise self.fail(field, "is required")
            return None
        if isinstance(value, bool):
            raise self.fail(field, "must be a number")
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise self.fail(field, f"{value!r} is not a number") from None

    def items(self, field: str) -> Sequence[Mapping[str, Any]]:
        value = self.raw.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(field, "must be a list of tables")
        return value


def _param(model_id: str, index: int, raw: Mapping[str, Any]) -> ParamSpec:
    entry = _Entry(model_id, raw, f"params[{index}].")
    entry.check_keys(_PARAM_KEYS)
    name = entry.text("name")
    entry.where = f"params.{name}."
    kind = entry.choice("type", ParamType)
    choices = raw.get("choices", [])
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise entry.fail("choices", "must be a list of strings")
    if (kind is ParamType.ENUM) != bool(choices):
        raise entry.fail("choices", "an enum needs choices, and only an enum has them")
    low, high = entry.decimal("min"), entry.decimal("max")
    if low is not None and high is not None and low > high:
        raise entry.fail("min", f"{low} is above max {high}")
    as_int = kind is ParamType.INT
    spec = ParamSpec(
        name=name,
        type=kind,
        required=entry.flag("required"),
        choices=tuple(choices),
        min=int(low) if as_int and low is not None else low,
        max=int(high) if as_int and high is not None else high,
        max_length=entry.count("max_length", None, 1),
        media=entry.choice("media", MediaKind) if kind is ParamType.MEDIA else None,
        max_items=entry.count("max_items", 1, 1) or 1,
        kie_name=entry.text("kie_name") if "kie_name" in raw else None,
        as_list=entry.flag("as_list"),
        max_mb=entry.count("max_mb", None, 1),
        accept=_strings(entry, "accept"),
        as_number=entry.flag("as_number"),
    )
    if spec.as_number:
        if kind is not ParamType.ENUM:
            raise entry.fail("as_number", "only an enum has it")
        bad = next((c for c in spec.choices if not _is_number(c)), None)
        if bad is not None:
            raise entry.fail("choices", f"{bad!r} is not a number, but as_number is set")
    media_only = ("as_list", "max_mb", "accept", "max_items")
    if kind is not ParamType.MEDIA and any(k in raw for k in media_only):
        field = next(k for k in media_only if k in raw)
        raise entry.fail(field, "only a media parameter has it")
    if spec.max_items > 1 and not spec.as_list:
        raise entry.fail("max_items", "several files need as_list = true")
    default = raw.get("default")
    if default is not None:
        try:
            spec = attrs.evolve(spec, default=spec.check(default))
        except InvalidParams as exc:
            raise entry.fail("default", exc.problem) from None
    if spec.required and spec.default is not None:
        raise entry.fail("default", "a required parameter cannot have a default")
    return spec


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def _strings(entry: _Entry, field: str) -> tuple[str, ...]:
    value = entry.raw.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise entry.fail(field, "must be a list of strings")
    return tuple(value)


def _sku(model_id: str, index: int, raw: Mapping[str, Any], params: tuple[ParamSpec, ...]) -> Sku:
    entry = _Entry(model_id, raw, f"skus[{index}].")
    entry.check_keys(_SKU_KEYS)
    sku_id = entry.text("id")
    entry.where = f"skus.{sku_id}."
    credits = entry.decimal("credits", required=True)
    assert credits is not None
    if credits < 0:
        raise entry.fail("credits", "cannot be negative")
    when = raw.get("when", {})
    if not isinstance(when, Mapping):
        raise entry.fail("when", "must be a table of parameter = value")
    enums = {p.name: p for p in params if p.when_choices}
    when = {name: when_key(value) for name, value in when.items()}
    for name, value in when.items():
        if name not in enums:
            raise entry.fail(f"when.{name}", "must name an enum or bool parameter of the model")
        if value not in enums[name].when_choices:
            raise entry.fail(f"when.{name}", f"{value!r} is not one of its choices")
    return Sku(
        id=sku_id,
        credits=credits,
        when=dict(when),
        price=entry.count("price", None, 0),
        free=entry.flag("free"),
    )


def parse_model(raw: Mapping[str, Any]) -> ModelSpec:
    model_id = raw.get("id")
    entry = _Entry(model_id if isinstance(model_id, str) and model_id else "?", raw)
    entry.text("id")
    entry.check_keys(_MODEL_KEYS)
    params = tuple(_param(entry.model_id, i, p) for i, p in enumerate(entry.items("params")))
    names = [p.name for p in params]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise entry.fail(f"params.{duplicate}", "is defined twice")
    skus = tuple(_sku(entry.model_id, i, s, params) for i, s in enumerate(entry.items("skus")))
    if not skus:
        raise entry.fail("skus", "a model needs at least one SKU")
    if not any(not s.when for s in skus) and not _covers(skus, params):
        raise entry.fail("skus", "some parameter combinations have no SKU; add one without 'when'")
    fixed = raw.get("fixed", {})
    if not isinstance(fixed, Mapping):
        raise entry.fail("fixed", "must be a table of Kie.ai input = value")
    wire = {p.wire_name: p.name for p in params}
    for key in fixed:
        if key in wire:
            raise entry.fail(f"fixed.{key}", f"is also sent by parameter {wire[key]!r}")
    wires = [p.wire_name for p in params]
    duplicate = next((w for w in wires if wires.count(w) > 1), None)
    if duplicate:
        raise entry.fail(f"params.{duplicate}", "two parameters send the same Kie.ai field")
    return ModelSpec(
        id=entry.model_id,
        kie_model=entry.text("kie_model"),
        title=entry.text("title"),
        category=entry.choice("category", Category),
        output=entry.choice("output", MediaKind),
        params=params,
        skus=skus,
        description=entry.text("description", ""),
        hidden=entry.flag("hidden"),
        fixed=dict(fixed),
        typical=_minutes(entry, "typical_minutes"),
    )


def _minutes(entry: _Entry, key: str) -> timedelta | None:
    """An optional duration in minutes, above 0."""
    value = entry.decimal(key, required=False)
    if value is None:
        return None
    if value <= 0:
        raise entry.fail(key, "must be a number of minutes above 0")
    return timedelta(minutes=float(value))


def _covers(skus: tuple[Sku, ...], params: tuple[ParamSpec, ...]) -> bool:
    """Whether every combination of the enums the SKUs depend on has a SKU."""
    keyed = sorted({name for s in skus for name in s.when})
    specs = {p.name: p for p in params}
    combos: list[dict[str, str]] = [{}]
    for name in keyed:
        combos = [{**c, name: choice} for c in combos for choice in specs[name].when_choices]
    return all(any(s.matches(c) for s in skus) for c in combos)


_TIMES_KEYS = {"expiry_minutes", "unconfirmed_minutes"}
_OPTIONAL_TIMES_KEYS = {"typical_minutes"}


def parse_categories(raw: Mapping[str, Any]) -> dict[Category, CategoryTimes]:
    """``[categories.<name>]`` tables: every category needs both times, in minutes (> 0)."""
    times: dict[Category, CategoryTimes] = {}
    for name, table in raw.items():
        entry = _Entry("categories", table if isinstance(table, Mapping) else {}, f"{name}.")
        if not isinstance(table, Mapping):
            raise CatalogError("categories", name, "must be a table")
        try:
            category = Category(name)
        except ValueError:
            allowed = ", ".join(c.value for c in Category)
            raise CatalogError("categories", name, f"is not one of {allowed}") from None
        entry.check_keys(_TIMES_KEYS | _OPTIONAL_TIMES_KEYS)
        minutes = {key: entry.decimal(key, required=True) for key in sorted(_TIMES_KEYS)}
        for key, value in minutes.items():
            if value is None or value <= 0:
                raise entry.fail(key, "must be a number of minutes above 0")
        times[category] = CategoryTimes(
            expiry=timedelta(minutes=float(minutes["expiry_minutes"] or 0)),
            unconfirmed=timedelta(minutes=float(minutes["unconfirmed_minutes"] or 0)),
            typical=_minutes(entry, "typical_minutes"),
        )
    missing = [c.value for c in Category if c not in times]
    if missing:
        raise CatalogError(
            "categories", missing[0], "needs a table with expiry_minutes and unconfirmed_minutes"
        )
    return times


def parse_catalog(
    models: Sequence[Mapping[str, Any]], categories: Mapping[str, Any] | None = None
) -> Catalog:
    """``categories`` None keeps the times out (tests that only need models)."""
    parsed = [parse_model(m) for m in models]
    seen: set[str] = set()
    for model in parsed:
        if model.id in seen:
            raise CatalogError(model.id, "id", "is used by two models")
        seen.add(model.id)
    times = parse_categories(categories) if categories is not None else {}
    return Catalog(tuple(parsed), times)
