"""The FSM storage contract, over aiogram's MemoryStorage and PostgresFsmStorage.

The wizard keeps its state here between a user's messages; every kind of value it stores must
come back: text, whole and fractional numbers (catalog defaults are Decimals), booleans, None,
lists of media references and nested parameter maps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from adapters.postgres.fsm import PostgresFsmStorage
from adapters.postgres.jsonb import NotJson
from adapters.postgres.pool import open_pool

KEY = StorageKey(bot_id=4242, chat_id=77, user_id=77)
OTHER = StorageKey(bot_id=4242, chat_id=78, user_id=78)

WIZARD_STATE: dict[str, Any] = {
    "model_id": "elevenlabs-tts",
    "draft": "k3Y_x-9",
    "step": 2,
    "params": {
        "prompt": 'Привет, мир 👋 — "quotes" and \\ backslashes',
        "stability": 0.5,
        "speed": 1,
        "enable_safety_checker": False,
        "negative_prompt": None,
        "image_urls": ["https://files.test/a.png", "https://files.test/b.png"],
        "voice": {"id": "Rachel", "tags": ["calm", "en"]},
        "seed": 2**53,
    },
}


@pytest.fixture
async def fsm(storage_url: str | None) -> AsyncIterator[BaseStorage]:
    if storage_url is None:
        yield MemoryStorage()
        return
    pool = await open_pool(storage_url, max_size=4)
    try:
        yield PostgresFsmStorage(pool)
    finally:
        await pool.close()


async def test_every_value_the_wizard_stores_comes_back_equal(fsm: BaseStorage) -> None:
    await fsm.set_state(KEY, "Wizard:confirm")
    await fsm.set_data(KEY, WIZARD_STATE)
    assert await fsm.get_state(KEY) == "Wizard:confirm"
    assert await fsm.get_data(KEY) == WIZARD_STATE


async def test_decimal_numbers_are_stored_as_numbers(fsm: BaseStorage) -> None:
    """Numeric catalog defaults are Decimals; they must not stop the wizard."""
    await fsm.set_data(KEY, {"params": {"stability": Decimal("0.5"), "speed": Decimal("1.25")}})
    await fsm.update_data(KEY, {"similarity_boost": Decimal("0.75")})
    data = await fsm.get_data(KEY)
    assert Decimal(str(data["params"]["stability"])) == Decimal("0.5")
    assert Decimal(str(data["params"]["speed"])) == Decimal("1.25")
    assert Decimal(str(data["similarity_boost"])) == Decimal("0.75")


async def test_update_merges_top_level_keys_and_keys_are_separate(fsm: BaseStorage) -> None:
    await fsm.set_data(KEY, {"model_id": "z-image", "step": 0})
    merged = await fsm.update_data(KEY, {"step": 1, "draft": "d1"})
    assert merged == {"model_id": "z-image", "step": 1, "draft": "d1"}
    assert await fsm.get_data(OTHER) == {}
    assert await fsm.get_state(OTHER) is None


async def test_clearing_the_state_keeps_nothing(fsm: BaseStorage) -> None:
    await fsm.set_state(KEY, "Wizard:prompt")
    await fsm.set_data(KEY, WIZARD_STATE)
    await fsm.set_state(KEY, None)
    await fsm.set_data(KEY, {})
    assert await fsm.get_state(KEY) is None
    assert await fsm.get_data(KEY) == {}


@pytest.mark.integration
async def test_a_value_json_cannot_hold_is_refused_and_the_stored_state_kept(
    pg_url: str,
) -> None:
    pool = await open_pool(pg_url, max_size=2)
    try:
        fsm = PostgresFsmStorage(pool)
        await fsm.set_data(KEY, {"step": 1})
        with pytest.raises(NotJson, match="cannot store as JSON"):
            await fsm.set_data(KEY, {"step": 2, "file": object()})
        assert await fsm.get_data(KEY) == {"step": 1}
    finally:
        await pool.close()
