"""InMemoryInbox: InboxPort with the PostgreSQL adapter's ordering and lease rules, in a dict."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from adapters.system import SystemClock
from core.ports.clock import Clock
from core.ports.inbox import InboxItem, InboxPort, ParkedUpdate


@attrs.define
class _Row:
    update_id: int
    chat_key: int | None
    payload: Mapping[str, Any]
    received_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    locked_until: datetime | None = None
    processed_at: datetime | None = None
    parked_at: datetime | None = None
    last_error: str = ""

    @property
    def pending(self) -> bool:
        return self.processed_at is None and self.parked_at is None


class InMemoryInbox(InboxPort):
    """Methods never await in the middle, so each is atomic on the event loop."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self.rows: dict[int, _Row] = {}

    async def store(
        self, update_id: int, payload: Mapping[str, Any], chat_key: int | None
    ) -> bool:
        if update_id in self.rows:
            return False
        now = self._clock.now()
        self.rows[update_id] = _Row(update_id, chat_key, dict(payload), now, now)
        return True

    def _blocked(self, row: _Row) -> bool:
        if row.chat_key is None:
            return False
        return any(
            r.pending and r.chat_key == row.chat_key and r.update_id < row.update_id
            for r in self.rows.values()
        )

    async def claim(self, limit: int, lease_seconds: float) -> list[InboxItem]:
        now = self._clock.now()
        claimed: list[InboxItem] = []
        for row in sorted(self.rows.values(), key=lambda r: r.update_id):
            if len(claimed) >= limit:
                break
            leased = row.locked_until is not None and row.locked_until > now
            if not row.pending or leased or row.next_attempt_at > now or self._blocked(row):
                continue
            row.locked_until = now + timedelta(seconds=lease_seconds)
            claimed.append(InboxItem(row.update_id, row.chat_key, row.payload, row.attempts))
        return claimed

    async def mark_processed(self, update_id: int) -> None:
        row = self.rows[update_id]
        row.processed_at = self._clock.now()
        row.locked_until = None

    async def retry_later(self, update_id: int, error: str, delay_seconds: float) -> None:
        row = self.rows[update_id]
        row.attempts += 1
        row.last_error = error
        row.locked_until = None
        row.next_attempt_at = self._clock.now() + timedelta(seconds=delay_seconds)

    async def park(self, update_id: int, error: str) -> None:
        row = self.rows[update_id]
        row.attempts += 1
        row.last_error = error
        row.locked_until = None
        row.parked_at = self._clock.now()

    async def release(self, update_ids: list[int]) -> None:
        for update_id in update_ids:
            if update_id in self.rows:
                self.rows[update_id].locked_until = None

    async def parked(self, limit: int = 20) -> list[ParkedUpdate]:
        rows = [r for r in self.rows.values() if r.parked_at is not None]
        rows.sort(key=lambda r: (r.parked_at, r.update_id), reverse=True)
        return [
            ParkedUpdate(r.update_id, r.chat_key, r.attempts, r.last_error, r.parked_at)  # type: ignore[arg-type]
            for r in rows[:limit]
        ]

    async def depth(self) -> int:
        return sum(1 for r in self.rows.values() if r.pending)

    async def purge_processed(self, older_than_seconds: float) -> int:
        cutoff = self._clock.now() - timedelta(seconds=older_than_seconds)
        old = [
            k
            for k, r in self.rows.items()
            if r.processed_at is not None and r.processed_at < cutoff
        ]
        for key in old:
            del self.rows[key]
        return len(old)
