"""The model lists: paged when long, hidden models never shown nor pickable."""

from __future__ import annotations

from adapters.catalog.loader import load_catalog
from core.domain.catalog import Category
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import USER, last_markup_data
from tests.fakes.updates import callback, message


def models_on_screen(harness: BotHarness) -> list[str]:
    return [d.removeprefix("md:") for d in last_markup_data(harness) if d.startswith("md:")]


async def test_a_long_category_pages_and_every_model_is_on_one_page(harness: BotHarness) -> None:
    visible = [m.id for m in load_catalog().visible(Category.IMAGE)]
    assert len(visible) > 8
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "c:image"))
    first = models_on_screen(harness)
    assert first == visible[:8]
    assert "cp:image:1" in last_markup_data(harness)
    assert "cp:image:0" not in last_markup_data(harness)
    await harness.feed(callback(USER, "cp:image:1"))
    second = models_on_screen(harness)
    assert second == visible[8:16]
    assert "cp:image:0" in last_markup_data(harness)
    await harness.feed(callback(USER, "cp:image:99"))  # past the end: the last page
    assert models_on_screen(harness) == second


async def test_hidden_models_never_show_and_cannot_be_picked() -> None:
    harness = BotHarness(hidden_models=("z-image",))
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "c:image"))
    await harness.feed(callback(USER, "cp:image:1"))
    await harness.feed(callback(USER, "cp:image:0"))
    assert "z-image" not in models_on_screen(harness)
    await harness.feed(callback(USER, "md:z-image"))
    assert harness.api.texts()[-1] == "This button is out of date. Here is the menu."
