"""The bundled catalog: 40+ models, every input built from its schema, errors name the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.catalog.loader import load_catalog
from adapters.kie.client import _json_default
from core.domain.catalog import Category, ModelSpec, ParamType
from core.domain.catalog_parse import parse_model
from core.domain.errors import CatalogError, InvalidParams
from core.domain.money import Pricing

CATALOG = load_catalog()


def sample(model: ModelSpec) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in model.params:
        if spec.type is ParamType.MEDIA:
            values[spec.name] = [f"https://tempfile.test/{spec.name}-{i}" for i in range(1)]
        elif spec.type is ParamType.TEXT and spec.required:
            values[spec.name] = "a calm lake at dawn"
    return values


def test_at_least_forty_models_across_every_category() -> None:
    assert len(CATALOG.models) >= 40
    assert {m.category for m in CATALOG.models} == set(Category)
    kinds = {m.output.value for m in CATALOG.models}
    assert {"image", "video", "audio", "text"} <= kinds


@pytest.mark.parametrize("model", CATALOG.models, ids=lambda m: m.id)
def test_every_model_input_builds_from_its_schema(model: ModelSpec) -> None:
    clean = model.validate(sample(model))
    payload = model.kie_input(clean)
    json.dumps(payload, default=_json_default)  # sendable as is
    for spec in model.params:
        if spec.name not in clean:
            continue
        assert spec.wire_name in payload
        if spec.type is ParamType.MEDIA:
            expected = list if spec.as_list else str
            assert isinstance(payload[spec.wire_name], expected), spec.name
    assert model.sku_for(clean).price_in(Pricing()) > 0


def test_wire_names_lists_numbers_and_fixed_inputs_come_from_the_schema() -> None:
    tts = CATALOG.get("elevenlabs-tts")
    assert tts.kie_input(tts.validate({"prompt": "hi"}))["text"] == "hi"
    qwen = CATALOG.get("qwen-image-edit")
    payload = qwen.kie_input(qwen.validate({"prompt": "x", "image_url": "https://f/1.png"}))
    assert payload["image_url"] == "https://f/1.png"
    assert payload["num_images"] == "1"
    sfx = CATALOG.get("elevenlabs-sfx")
    sent = json.dumps(sfx.kie_input(sfx.validate({"prompt": "rain"})), default=_json_default)
    assert '"duration_seconds": 5' in sent


def test_bool_parameters_select_the_sku() -> None:
    kling = CATALOG.get("kling-2-6-t2v")
    with_sound = kling.validate({"prompt": "x", "sound": True, "duration": "10"})
    assert kling.sku_for(with_sound).id == "10s-sound"
    assert kling.sku_for(kling.validate({"prompt": "x"})).id == "5s"


def test_too_many_files_and_bad_enum_are_rejected() -> None:
    edit = CATALOG.get("nano-banana-edit")
    with pytest.raises(InvalidParams, match="at most 5"):
        edit.validate({"prompt": "x", "image_urls": [f"https://f/{i}" for i in range(6)]})
    with pytest.raises(InvalidParams) as caught:
        edit.validate({"prompt": "x", "image_urls": ["https://f/1"], "image_size": "7:1"})
    assert caught.value.field == "image_size"


BASE: dict[str, Any] = {
    "id": "broken",
    "kie_model": "x/y",
    "title": "Broken",
    "category": "image",
    "output": "image",
    "skus": [{"id": "default", "credits": "1"}],
}


@pytest.mark.parametrize(
    ("params", "extra", "field"),
    [
        ([{"name": "p", "type": "text", "as_list": True}], {}, "params.p.as_list"),
        (
            [{"name": "img", "type": "media", "media": "image", "max_items": 3}],
            {},
            "params.img.max_items",
        ),
        (
            [{"name": "d", "type": "enum", "choices": ["a"], "as_number": True}],
            {},
            "params.d.choices",
        ),
        ([{"name": "d", "type": "text", "as_number": True}], {}, "params.d.as_number"),
        (
            [{"name": "a", "type": "text"}, {"name": "b", "type": "text", "kie_name": "a"}],
            {},
            "params.a",
        ),
        ([{"name": "a", "type": "text"}], {"fixed": {"a": 1}}, "fixed.a"),
        (
            [{"name": "m", "type": "media", "media": "image", "accept": "image/png"}],
            {},
            "params.m.accept",
        ),
        (
            [{"name": "s", "type": "bool"}],
            {"skus": [{"id": "x", "credits": "1", "when": {"s": "maybe"}}]},
            "skus.x.when.s",
        ),
    ],
)
def test_bad_entries_name_the_model_and_field(
    params: list[dict[str, Any]], extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_model({**BASE, "params": params, **extra})
    assert caught.value.model_id == "broken"
    assert caught.value.field == field


async def test_invalid_params_are_refused_before_any_money_is_held() -> None:
    from adapters.memory.storage import InMemoryStorage
    from adapters.system import ManualClock, RandomIds
    from core.usecases.generation import ConfirmGeneration

    storage = InMemoryStorage()
    confirm = ConfirmGeneration(storage, CATALOG, Pricing(), ManualClock(), RandomIds())
    for params in ({"prompt": "x"}, {"prompt": "x", "image_urls": ["https://f/1"], "n": 1}):
        with pytest.raises(InvalidParams):
            await confirm(
                confirm_key=f"k{len(params)}",
                user_id=1,
                chat_id=1,
                lang="en",
                model_id="nano-banana-edit",
                params=params,
            )
    assert storage.ledger == []
    assert storage.jobs == {}
