"""PostgresInbox: InboxPort on one table; writes are group-committed, claims use SKIP LOCKED."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import msgspec
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.ledger import Conn
from core.ports.inbox import InboxItem, InboxPort, ParkedUpdate

# One statement for a whole batch, whatever its size: three array parameters, no SQL built at
# run time. A redelivered update_id hits the primary key and is skipped.
STORE_BATCH = """
INSERT INTO update_inbox (update_id, chat_key, payload)
SELECT u, c, p::jsonb FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS t(u, c, p)
ON CONFLICT (update_id) DO NOTHING
RETURNING update_id
"""

# Only a chat's oldest pending update is eligible, so one chat never has two in flight; rows
# another claimer is locking right now are skipped, not waited for.
CLAIM = """
UPDATE update_inbox SET locked_until = now() + make_interval(secs => %(lease)s)
WHERE update_id IN (
    SELECT i.update_id FROM update_inbox i
    WHERE i.processed_at IS NULL AND i.parked_at IS NULL
      AND i.next_attempt_at <= now()
      AND (i.locked_until IS NULL OR i.locked_until <= now())
      AND NOT EXISTS (
          SELECT 1 FROM update_inbox e
          WHERE e.chat_key = i.chat_key AND e.update_id < i.update_id
            AND e.processed_at IS NULL AND e.parked_at IS NULL)
    ORDER BY i.update_id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
RETURNING update_id, chat_key, payload, attempts
"""

PROCESSED = (
    "UPDATE update_inbox SET processed_at = now(), locked_until = NULL WHERE update_id = %s"
)
RETRY = """
UPDATE update_inbox SET attempts = attempts + 1, last_error = %(error)s, locked_until = NULL,
    next_attempt_at = now() + make_interval(secs => %(delay)s)
WHERE update_id = %(id)s
"""
PARK = """
UPDATE update_inbox SET attempts = attempts + 1, last_error = %s, locked_until = NULL,
    parked_at = now()
WHERE update_id = %s
"""
RELEASE = "UPDATE update_inbox SET locked_until = NULL WHERE update_id = ANY(%s::bigint[])"
PARKED = """
SELECT update_id, chat_key, attempts, last_error, parked_at FROM update_inbox
WHERE parked_at IS NOT NULL ORDER BY parked_at DESC, update_id DESC LIMIT %s
"""
DEPTH = "SELECT count(*) AS n FROM update_inbox WHERE processed_at IS NULL AND parked_at IS NULL"
PURGE = """
DELETE FROM update_inbox
WHERE processed_at IS NOT NULL AND processed_at < now() - make_interval(secs => %s)
"""

_Waiter = tuple[int, int | None, str, "asyncio.Future[bool]"]


class PostgresInbox(InboxPort):
    """``store`` queues the row and awaits its commit; up to ``max_flushes`` batch INSERTs run
    at once, and whatever arrives meanwhile joins the next batch (group commit without a timer:
    an idle inbox writes each update at once, a busy one amortises the round trip)."""

    def __init__(
        self, pool: AsyncConnectionPool[Conn], *, max_batch: int = 200, max_flushes: int = 4
    ) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._max_flushes = max_flushes
        self._queue: list[_Waiter] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def store(
        self, update_id: int, payload: Mapping[str, Any], chat_key: int | None
    ) -> bool:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((update_id, chat_key, msgspec.json.encode(payload).decode(), done))
        self._kick()
        return await done

    def _kick(self) -> None:
        if self._queue and len(self._flushing) < self._max_flushes:
            task = asyncio.create_task(self._flush())
            self._flushing.add(task)
            task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._flushing.discard(task)
        self._kick()

    async def _flush(self) -> None:
        # Taken when the task runs, not when it was created: requests of the same loop tick join.
        batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        if not batch:
            return
        first: dict[int, _Waiter] = {}
        for waiter in batch:
            first.setdefault(waiter[0], waiter)
        rows = list(first.values())
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    STORE_BATCH,
                    ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
                )
                inserted = {row["update_id"] for row in await cur.fetchall()}
        except Exception as exc:
            for *_, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for waiter in batch:
            update_id, done = waiter[0], waiter[3]
            if not done.done():
                done.set_result(update_id in inserted and first[update_id] is waiter)

    async def claim(self, limit: int, lease_seconds: float) -> list[InboxItem]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(CLAIM, {"lease": lease_seconds, "limit": limit})
            rows = await cur.fetchall()
        rows.sort(key=lambda r: r["update_id"])
        return [
            InboxItem(r["update_id"], r["chat_key"], r["payload"], r["attempts"]) for r in rows
        ]

    async def _run(self, query: str, params: Any) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            return cur.rowcount

    async def mark_processed(self, update_id: int) -> None:
        await self._run(PROCESSED, (update_id,))

    async def retry_later(self, update_id: int, error: str, delay_seconds: float) -> None:
        await self._run(RETRY, {"error": error, "delay": delay_seconds, "id": update_id})

    async def park(self, update_id: int, error: str) -> None:
        await self._run(PARK, (error, update_id))

    async def release(self, update_ids: list[int]) -> None:
        await self._run(RELEASE, (update_ids,))

    async def parked(self, limit: int = 20) -> list[ParkedUpdate]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(PARKED, (limit,))
            rows = await cur.fetchall()
        return [
            ParkedUpdate(
                r["update_id"], r["chat_key"], r["attempts"], r["last_error"] or "", r["parked_at"]
            )
            for r in rows
        ]

    async def depth(self) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(DEPTH)
            row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def purge_processed(self, older_than_seconds: float) -> int:
        return await self._run(PURGE, (older_than_seconds,))
