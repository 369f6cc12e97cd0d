"""InMemoryInbox: InboxPort with the PostgreSQL adapter's ordering, lease and liveness rules.

Several objects can share one set of rows (``InMemoryInbox(sharing=other)``), each a claimer of
its own, as several processes share one table; ``close()`` plays a claimer's death.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from adapters.system import SystemClock
from core.ports.clock import ClockPort
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
    claimed_by: int | None = None
    processed_at: datetime | None = None
    parked_at: datetime | None = None
    last_error: str = ""

    @property
    def pending(self) -> bool:
        return self.processed_at is None and self.parked_at is None

    def unclaim(self) -> None:
        self.locked_until = None
        self.claimed_by = None


@attrs.define
class _Store:
    """What the claimers share: the rows, and which claimers are alive."""

    rows: dict[int, _Row] = attrs.Factory(dict)
    live: set[int] = attrs.Factory(set)
    keys: itertools.count[int] = attrs.Factory(lambda: itertools.count(1))


class InMemoryInbox(InboxPort):
    """Methods never await in the middle, so each is atomic on the event loop."""

    def __init__(
        self, clock: ClockPort | None = None, *, sharing: InMemoryInbox | None = None
    ) -> None:
        self._clock = clock or (sharing._clock if sharing is not None else SystemClock())
        self._store = sharing._store if sharing is not None else _Store()
        self.rows = self._store.rows
        self._key: int | None = None
        self._held: set[int] = set()

    def _live_key(self) -> int:
        if self._key is None:
            self._key = next(self._store.keys)
            self._store.live.add(self._key)
        return self._key

    def _mine(self, row: _Row) -> bool:
        return self._key is not None and row.claimed_by == self._key

    def _free(self, row: _Row, now: datetime) -> bool:
        if row.locked_until is None or row.locked_until <= now:
            return True
        return row.claimed_by is not None and row.claimed_by not in self._store.live

    async def start(self) -> None:
        self._live_key()

    async def close(self) -> None:
        if self._key is not None:
            self._store.live.discard(self._key)
        self._key = None
        self._held.clear()

    async def renew(self, lease_seconds: float) -> int:
        self._live_key()
        until = self._clock.now() + timedelta(seconds=lease_seconds)
        renewed = 0
        for update_id in self._held:
            row = self.rows.get(update_id)
            if row is not None and row.pending and self._mine(row):
                row.locked_until = until
                renewed += 1
        return renewed

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
        key = self._live_key()
        now = self._clock.now()
        claimed: list[InboxItem] = []
        for row in sorted(self.rows.values(), key=lambda r: r.update_id):
            if len(claimed) >= limit:
                break
            if not row.pending or not self._free(row, now) or row.next_attempt_at > now:
                continue
            if self._blocked(row):
                continue
            row.locked_until = now + timedelta(seconds=lease_seconds)
            row.claimed_by = key
            self._held.add(row.update_id)
            claimed.append(InboxItem(row.update_id, row.chat_key, row.payload, row.attempts))
        return claimed

    async def mark_processed(self, update_id: int) -> None:
        self._held.discard(update_id)
        row = self.rows[update_id]
        row.processed_at = self._clock.now()
        row.unclaim()

    async def retry_later(self, update_id: int, error: str, delay_seconds: float) -> None:
        self._held.discard(update_id)
        row = self.rows[update_id]
        if not self._mine(row):
            return
        row.attempts += 1
        row.last_error = error
        row.unclaim()
        row.next_attempt_at = self._clock.now() + timedelta(seconds=delay_seconds)

    async def park(self, update_id: int, error: str) -> None:
        self._held.discard(update_id)
        row = self.rows[update_id]
        if not self._mine(row):
            return
        row.attempts += 1
        row.last_error = error
        row.unclaim()
        row.parked_at = self._clock.now()

    async def release(self, update_ids: list[int]) -> None:
        for update_id in update_ids:
            self._held.discard(update_id)
            row = self.rows.get(update_id)
            if row is not None and self._mine(row):
                row.unclaim()

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
