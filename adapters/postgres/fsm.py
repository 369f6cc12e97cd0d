"""PostgresFsmStorage: aiogram's FSM state in PostgreSQL, shared by every worker and process."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StorageKey
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.jsonb import jsonb
from adapters.postgres.ledger import Conn

SET_STATE = """
INSERT INTO fsm_state (key, state) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, updated_at = now()
"""
SET_DATA = """
INSERT INTO fsm_state (key, data) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()
"""
# Merged in one statement, so no read-modify-write window between two writers.
MERGE_DATA = """
INSERT INTO fsm_state (key, data) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET data = fsm_state.data || EXCLUDED.data, updated_at = now()
RETURNING data
"""


class PostgresFsmStorage(BaseStorage):
    def __init__(
        self, pool: AsyncConnectionPool[Conn], key_builder: KeyBuilder | None = None
    ) -> None:
        self._pool = pool
        self._keys = key_builder or DefaultKeyBuilder(with_destiny=True)

    async def _one(self, query: str, params: Any) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone() if cur.description else None

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._one(SET_STATE, (self._keys.build(key), value))

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._one(
            "SELECT state FROM fsm_state WHERE key = %s", (self._keys.build(key),)
        )
        return row["state"] if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._one(SET_DATA, (self._keys.build(key), jsonb(dict(data))))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._one(
            "SELECT data FROM fsm_state WHERE key = %s", (self._keys.build(key),)
        )
        return dict(row["data"]) if row else {}

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        row = await self._one(MERGE_DATA, (self._keys.build(key), jsonb(dict(data))))
        return dict(row["data"]) if row else {}

    async def close(self) -> None:
        """The pool belongs to the runtime, which closes it."""
