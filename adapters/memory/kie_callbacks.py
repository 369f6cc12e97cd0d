"""InMemoryCallbackStore: the CallbackStorePort in a list (each method atomic on the loop)."""

from __future__ import annotations

from datetime import datetime

from core.ports.callbacks import CallbackStorePort, ProviderCallback


class InMemoryCallbackStore(CallbackStorePort):
    def __init__(self) -> None:
        self.rows: list[tuple[int, ProviderCallback, datetime | None]] = []

    async def save(self, callback: ProviderCallback) -> int:
        callback_id = len(self.rows) + 1
        self.rows.append((callback_id, callback, None))
        return callback_id

    async def pending(self, job_id: str) -> list[tuple[int, ProviderCallback]]:
        return [(i, c) for i, c, done in self.rows if c.job_id == job_id and done is None]

    async def mark_done(self, callback_id: int, now: datetime) -> None:
        i, callback, done = self.rows[callback_id - 1]
        if done is None:
            self.rows[callback_id - 1] = (i, callback, now)

    async def jobs_with_pending(self, limit: int = 100) -> list[str]:
        ids: list[str] = []
        for _, callback, done in self.rows:
            if done is None and callback.job_id not in ids:
                ids.append(callback.job_id)
        return ids[:limit]
