"""The catalog parser names the model and field of every problem."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.catalog.loader import DEFAULT_DIR, load_catalog
from core.domain.catalog import Category
from core.domain.catalog_parse import parse_catalog, parse_categories, parse_model
from core.domain.errors import CatalogError, InvalidParams
from core.domain.money import Pricing


def model(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "m1",
        "kie_model": "vendor/m1",
        "title": "M1",
        "category": "image",
        "output": "image",
        "params": [
            {"name": "prompt", "type": "text", "required": True, "max_length": 10},
            {"name": "size", "type": "enum", "choices": ["S", "L"], "default": "S"},
        ],
        "skus": [
            {"id": "small", "credits": "1.5", "when": {"size": "S"}},
            {"id": "large", "credits": 3, "when": {"size": "L"}},
        ],
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"category": "poetry"}, "category", "'poetry' is not one of"),
        ({"title": ""}, "title", "must be a non-empty string"),
        ({"skus": []}, "skus", "at least one SKU"),
        ({"colour": "red"}, "colour", "is not a known field"),
        (
            {"skus": [{"id": "s", "credits": "1", "when": {"size": "XL"}}]},
            "skus.s.when.size",
            "'XL' is not one of its choices",
        ),
        (
            {"skus": [{"id": "s", "credits": "1", "when": {"size": "S"}}]},
            "skus",
            "some parameter combinations have no SKU",
        ),
        (
            {"params": [{"name": "n", "type": "int", "min": 5, "max": 1}]},
            "params.n.min",
            "above max",
        ),
        (
            {"params": [{"name": "size", "type": "enum", "choices": ["S"], "default": "M"}]},
            "params.size.default",
            "must be one of S",
        ),
        ({"params": [{"name": "q", "type": "enum"}]}, "params.q.choices", "an enum needs"),
    ],
)
def test_bad_entries_name_model_and_field(
    overrides: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_model(model(**overrides))
    assert caught.value.model_id == "m1"
    assert caught.value.field == field
    assert problem in caught.value.problem


def test_duplicate_model_ids_are_rejected() -> None:
    with pytest.raises(CatalogError, match="used by two models"):
        parse_catalog([model(), model()])


def test_sku_follows_the_enum_and_prices_round_up_to_the_minor_unit() -> None:
    spec = parse_model(model())
    pricing = Pricing(credit_usd=Decimal("0.005"), fx_rate=Decimal("95.5"), markup=Decimal("2"))
    small = spec.sku_for(spec.validate({"prompt": "hi"}))
    large = spec.sku_for(spec.validate({"prompt": "hi", "size": "L"}))
    assert (small.id, large.id) == ("small", "large")
    # 1.5 × 0.005 × 95.5 × 2 × 100 = 143.25 → 144 kopecks, never rounded down
    assert small.price_in(pricing) == 144
    assert large.price_in(pricing) == 287


def test_validation_rejects_unknown_long_and_missing_values() -> None:
    spec = parse_model(model())
    with pytest.raises(InvalidParams, match="prompt: is required"):
        spec.validate({})
    with pytest.raises(InvalidParams, match="longer than 10"):
        spec.validate({"prompt": "x" * 11})
    with pytest.raises(InvalidParams, match="not a parameter"):
        spec.validate({"prompt": "ok", "seed": 1})
    with pytest.raises(InvalidParams, match="must be one of S, L"):
        spec.validate({"prompt": "ok", "size": "M"})


def test_every_category_needs_its_times_in_minutes() -> None:
    good = {c.value: {"expiry_minutes": 15, "unconfirmed_minutes": "0.5"} for c in Category}
    times = parse_categories(good)
    assert times[Category.IMAGE].unconfirmed.total_seconds() == 30
    missing = dict(good)
    del missing["video"]
    with pytest.raises(CatalogError, match=r"'video'.*needs a table"):
        parse_categories(missing)
    with pytest.raises(CatalogError, match=r"unconfirmed_minutes.*above 0"):
        parse_categories({**good, "image": {"expiry_minutes": 1, "unconfirmed_minutes": 0}})
    with pytest.raises(CatalogError, match=r"'sculpture'.*is not one of"):
        parse_categories({**good, "sculpture": {"expiry_minutes": 1, "unconfirmed_minutes": 1}})
    with pytest.raises(CatalogError, match=r"expiry_seconds.*not a known field"):
        parse_categories({**good, "audio": {"expiry_seconds": 1, "unconfirmed_minutes": 1}})


def test_typical_times_are_optional_minutes_above_zero_and_a_model_overrides_its_category() -> (
    None
):
    good = {c.value: {"expiry_minutes": 15, "unconfirmed_minutes": 1} for c in Category}
    good["video"] = {**good["video"], "typical_minutes": 4}
    times = parse_categories(good)
    assert times[Category.VIDEO].typical is not None
    assert times[Category.VIDEO].typical.total_seconds() == 240
    assert times[Category.IMAGE].typical is None
    with pytest.raises(CatalogError, match=r"typical_minutes.*above 0"):
        parse_categories({**good, "image": {**good["image"], "typical_minutes": 0}})
    catalog = parse_catalog([model(typical_minutes="0.5")], good)
    assert catalog.typical_time(catalog.models[0]) == timedelta(seconds=30)
    with pytest.raises(CatalogError, match=r"typical_minutes.*above 0"):
        parse_catalog([model(typical_minutes=-1)], good)


def test_a_catalog_dir_without_times_keeps_the_bundled_ones(tmp_path: Path) -> None:
    (tmp_path / "image.toml").write_text((DEFAULT_DIR / "image.toml").read_text())
    bundled = load_catalog().times
    assert load_catalog(tmp_path).times == bundled
    (tmp_path / "categories.toml").write_text(
        "\n".join(
            f"[categories.{c.value}]\nexpiry_minutes = 2\nunconfirmed_minutes = 0.1"
            for c in Category
        )
    )
    assert load_catalog(tmp_path).times[Category.IMAGE].unconfirmed.total_seconds() == 6
