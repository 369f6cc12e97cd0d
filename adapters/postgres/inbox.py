"""PostgresInbox: InboxPort on one table; writes are group-committed, claims use SKIP LOCKED.

Each PostgresInbox is one claimer. On first use it opens a connection of its own (autocommit,
never from the pool: a pooled connection is shared and recycled, a liveness lock must not be),
takes a key from ``update_inbox_claimer_seq`` and holds the session advisory lock
(CLAIMER_CLASS, key) on it until ``close()``. A claim writes ``claimed_by = key``; a row stays
claimed while that lock is held and its lease runs. A process that dies closes its connection,
PostgreSQL drops the lock and every row it claimed is free at once; a process that hangs keeps
its connection but stops renewing, so its rows are free when their lease ends. Leases are
renewed through the same connection, in a statement that checks the lock is still that
connection's, so a renewal proves the very session others look at is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.ledger import Conn
from adapters.postgres.lock_conn import connect_dedicated
from adapters.postgres.lock_sql import lock_key
from core.ports.inbox import InboxItem, InboxPort, InboxUnavailable, ParkedUpdate

log = logging.getLogger(__name__)

# The first half of the two-int advisory lock key; the second is the claimer's own key.
CLAIMER_CLASS = lock_key("kiebot:inbox-claimer")[0]

# One statement for a whole batch, whatever its size: three array parameters, no SQL built at
# run time. A redelivered update_id hits the primary key and is skipped.
STORE_BATCH = """
INSERT INTO update_inbox (update_id, chat_key, payload)
SELECT u, c, p::jsonb FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS t(u, c, p)
ON CONFLICT (update_id) DO NOTHING
RETURNING update_id
"""

# ``live`` is the claimers whose advisory lock is held in this database right now (pg_locks
# lists every database's locks, and keys repeat across databases). A row is free when it has no
# running lease, or when its claimer is no longer live. Only a chat's oldest pending update is
# eligible, so one chat never has two in flight; rows another claimer is locking right now are
# skipped, not waited for. Nothing is claimed unless our own lock is held by our own liveness
# connection (``me``), which the first output column reports, so a lost lock is noticed here
# instead of handing out claims that others would see as free.
CLAIM = """
WITH live AS MATERIALIZED (
    SELECT l.objid::bigint AS key, l.pid FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint = %(class)s),
me AS (SELECT EXISTS (SELECT 1 FROM live WHERE key = %(key)s AND pid = %(pid)s) AS ok),
claimed AS (
    UPDATE update_inbox
    SET claimed_by = %(key)s, locked_until = now() + make_interval(secs => %(lease)s)
    WHERE (SELECT ok FROM me) AND update_id IN (
        SELECT i.update_id FROM update_inbox i
        WHERE i.processed_at IS NULL AND i.parked_at IS NULL
          AND i.next_attempt_at <= now()
          AND (i.locked_until IS NULL OR i.locked_until <= now()
               OR (i.claimed_by IS NOT NULL AND i.claimed_by NOT IN (SELECT key FROM live)))
          AND NOT EXISTS (
              SELECT 1 FROM update_inbox e
              WHERE e.chat_key = i.chat_key AND e.update_id < i.update_id
                AND e.processed_at IS NULL AND e.parked_at IS NULL)
        ORDER BY i.update_id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED)
    RETURNING update_id, chat_key, payload, attempts)
SELECT me.ok AS live, c.update_id, c.chat_key, c.payload, c.attempts
FROM me LEFT JOIN claimed c ON true
"""

# Run on the liveness connection itself: extends only while that very session holds the lock,
# and only rows still claimed by us (another claimer may have taken one after a lapse).
RENEW = """
WITH me AS (
    SELECT EXISTS (
        SELECT 1 FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = %(class)s AND l.objid::bigint = %(key)s
          AND l.pid = pg_backend_pid()) AS ok),
renewed AS (
    UPDATE update_inbox SET locked_until = now() + make_interval(secs => %(lease)s)
    WHERE (SELECT ok FROM me) AND claimed_by = %(key)s AND update_id = ANY(%(ids)s::bigint[])
      AND processed_at IS NULL AND parked_at IS NULL
    RETURNING 1)
SELECT (SELECT ok FROM me), (SELECT count(*) FROM renewed)
"""
NEXT_KEY = "SELECT nextval('update_inbox_claimer_seq')::int"
# The server's own pid, not the one the client library was told at connect: a pooler in
# between may report another.
TRY_LOCK = "SELECT pg_try_advisory_lock(%(class)s::int4, %(key)s::int4), pg_backend_pid()"

PROCESSED = """
UPDATE update_inbox SET processed_at = now(), locked_until = NULL, claimed_by = NULL
WHERE update_id = %s
"""
# The other outcomes need the claim to be ours still: after losing an update to another
# claimer, a late retry or release would otherwise clear that claimer's lease.
RETRY = """
UPDATE update_inbox SET attempts = attempts + 1, last_error = %(error)s, locked_until = NULL,
    claimed_by = NULL, next_attempt_at = now() + make_interval(secs => %(delay)s)
WHERE update_id = %(id)s AND claimed_by = %(key)s
"""
PARK = """
UPDATE update_inbox SET attempts = attempts + 1, last_error = %(error)s, locked_until = NULL,
    claimed_by = NULL, parked_at = now()
WHERE update_id = %(id)s AND claimed_by = %(key)s
"""
RELEASE = """
UPDATE update_inbox SET locked_until = NULL, claimed_by = NULL
WHERE update_id = ANY(%(ids)s::bigint[]) AND claimed_by = %(key)s
"""
PARKED = """
SELECT update_id, chat_key, attempts, last_error, parked_at FROM update_inbox
WHERE parked_at IS NOT NULL ORDER BY parked_at DESC, update_id DESC LIMIT %s
"""
DEPTH = "SELECT count(*) AS n FROM update_inbox WHERE processed_at IS NULL AND parked_at IS NULL"
PURGE = """
DELETE FROM update_inbox
WHERE processed_at IS NOT NULL AND processed_at < now() - make_interval(secs => %s)
"""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class _Liveness:
    """The claimer's own connection and the advisory lock on its key.

    Every statement runs as its own task under a deadline; a timeout, an error or a lock found
    gone drops the connection (closed in the background), and the next ``ensure`` opens a new
    one and takes the same key again, so claims nobody took meanwhile stay ours.
    """

    def __init__(
        self, conninfo: str, *, connect_timeout: float, retry_after: float, deadline: float
    ) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._retry_after = retry_after
        self._deadline = deadline
        self.key: int | None = None
        self.pid: int | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._opening = asyncio.Lock()
        self._failed_at: float | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def _up(self) -> bool:
        conn = self._conn
        return conn is not None and not conn.closed and not conn.broken

    async def ensure(self) -> tuple[int, int]:
        """Our key and the backend pid holding its lock; raises InboxUnavailable if neither
        the current connection nor a new one can hold it."""
        if not self._up():
            async with self._opening:
                if not self._up():
                    await self._open()
        assert self.key is not None
        assert self.pid is not None
        return self.key, self.pid

    async def _open(self) -> None:
        self._drop()
        if self._failed_at is not None and time.monotonic() - self._failed_at < self._retry_after:
            raise InboxUnavailable("the inbox liveness connection is down; retrying shortly")
        try:
            conn = await connect_dedicated(self._conninfo, "kiebot-inbox", self._connect_timeout)
        except (psycopg.Error, OSError) as exc:
            self._failed_at = time.monotonic()
            log.warning("[INBOX] cannot open the liveness connection: %s", _one_line(exc))
            raise InboxUnavailable(_one_line(exc)) from exc
        try:
            key, pid = await self._take_key(conn)
        except BaseException as exc:
            self._failed_at = time.monotonic()
            self._close_later(conn)
            if isinstance(exc, InboxUnavailable):
                log.warning("[INBOX] cannot take a liveness lock: %s", exc)
            raise
        again = key == self.key
        self._conn, self.key, self.pid, self._failed_at = conn, key, pid, None
        log.info(
            "[INBOX] %s claimer key=%d (liveness backend pid=%d)",
            "re-established" if again else "claiming as",
            key,
            self.pid,
        )

    async def _take_key(self, conn: psycopg.AsyncConnection[Any]) -> tuple[int, int]:
        key = self.key
        for _ in range(3):
            if key is None:
                row = await self._run(conn, NEXT_KEY, {})
                key = int(row[0])
            row = await self._run(conn, TRY_LOCK, {"class": CLAIMER_CLASS, "key": key})
            if row[0]:
                return key, int(row[1])
            # Held by another session: sequence keys are unique, so only after a wrap-around.
            log.warning("[INBOX] claimer key=%d is held by another session; taking a new one", key)
            key = None
        raise InboxUnavailable("no free claimer key")

    async def _run(
        self, conn: psycopg.AsyncConnection[Any], sql: str, params: dict[str, Any]
    ) -> tuple[Any, ...]:
        async def step() -> tuple[Any, ...] | None:
            cur = await conn.execute(sql, params)
            return await cur.fetchone()

        task = asyncio.ensure_future(step())
        try:
            done, _ = await asyncio.wait({task}, timeout=self._deadline)
        except asyncio.CancelledError:
            self._lost_conn(conn, "cancelled mid-statement", task)
            raise
        if not done:
            self._lost_conn(conn, f"no answer within {self._deadline:g}s", task)
            raise InboxUnavailable(f"no answer within {self._deadline:g}s")
        try:
            row = task.result()
        except (psycopg.Error, OSError) as exc:
            self._lost_conn(conn, _one_line(exc))
            raise InboxUnavailable(_one_line(exc)) from exc
        if row is None:  # pragma: no cover - every statement here returns one row
            raise InboxUnavailable("the liveness statement returned no row")
        return row

    async def renew(self, ids: list[int], lease: float) -> int:
        key, _ = await self.ensure()
        assert self._conn is not None
        params = {"class": CLAIMER_CLASS, "key": key, "ids": ids, "lease": lease}
        ok, renewed = await self._run(self._conn, RENEW, params)
        if not ok:
            self.lost("the advisory lock is no longer held by the liveness connection")
            raise InboxUnavailable("the inbox liveness lock was lost")
        return int(renewed)

    def lost(self, reason: str, pid: int | None = None) -> None:
        """Drop the connection (unless ``pid`` names one already replaced); log it once."""
        if self._conn is None or (pid is not None and pid != self.pid):
            return
        self._lost_conn(self._conn, reason)

    def _lost_conn(
        self,
        conn: psycopg.AsyncConnection[Any],
        reason: str,
        after: asyncio.Task[Any] | None = None,
    ) -> None:
        if conn is self._conn:
            log.warning(
                "[INBOX] liveness of claimer key=%s lost (%s): no claims until it is back",
                self.key,
                reason,
            )
            self._conn, self.pid = None, None
        self._close_later(conn, after)

    def _drop(self) -> None:
        if self._conn is not None:
            self._lost_conn(self._conn, "the connection is closed or broken")

    def _close_later(
        self, conn: psycopg.AsyncConnection[Any], after: asyncio.Task[Any] | None = None
    ) -> None:
        async def close() -> None:
            if after is not None:
                after.cancel()
                await asyncio.wait({after})
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()

        task = asyncio.ensure_future(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Closing the session releases the lock; a later ``ensure`` takes a new key."""
        conn, self._conn, self.pid, self.key = self._conn, None, None, None
        if conn is not None:
            self._close_later(conn)
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=15)


_Waiter = tuple[int, int | None, str, "asyncio.Future[bool]"]


class PostgresInbox(InboxPort):
    """``store`` queues the row and awaits its commit; up to ``max_flushes`` batch INSERTs run
    at once, and whatever arrives meanwhile joins the next batch (group commit without a timer:
    an idle inbox writes each update at once, a busy one amortises the round trip).

    The liveness connection goes to ``conninfo`` (the pool's by default) and is opened by the
    first ``start``, ``claim`` or ``renew``; store, depth, parked and purge never need it.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool[Conn],
        *,
        max_batch: int = 200,
        max_flushes: int = 4,
        conninfo: str | None = None,
        connect_timeout: float = 5.0,
        retry_after: float = 1.0,
        statement_timeout: float = 10.0,
    ) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._max_flushes = max_flushes
        self._queue: list[_Waiter] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self._live = _Liveness(
            conninfo if conninfo is not None else pool.conninfo,
            connect_timeout=connect_timeout,
            retry_after=retry_after,
            deadline=statement_timeout,
        )
        self._held: set[int] = set()  # claimed here, no outcome recorded yet

    @property
    def claimer_key(self) -> int | None:
        """The key of our advisory lock (None before the first claim and after close)."""
        return self._live.key

    async def start(self) -> None:
        await self._live.ensure()

    async def close(self) -> None:
        self._held.clear()
        await self._live.close()

    async def renew(self, lease_seconds: float) -> int:
        held = sorted(self._held)
        try:
            renewed = await self._live.renew(held, lease_seconds)
        except InboxUnavailable:
            # The connection broke since the last renewal: open a new one (same key) and renew
            # at once, so claims nobody took in between are protected again.
            renewed = await self._live.renew(held, lease_seconds)
        if renewed < len(held):
            log.warning(
                "[INBOX] %d of %d claim(s) of key=%s were no longer ours to renew",
                len(held) - renewed,
                len(held),
                self._live.key,
            )
        return renewed

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
        # A lock found gone is noticed by the claim itself (which then claimed nothing); one
        # more try re-establishes the liveness at once instead of at the next poll.
        for _ in range(2):
            key, pid = await self._live.ensure()
            params = {
                "class": CLAIMER_CLASS,
                "key": key,
                "pid": pid,
                "lease": lease_seconds,
                "limit": limit,
            }
            async with self._pool.connection() as conn:
                cur = await conn.execute(CLAIM, params)
                rows = await cur.fetchall()
            if rows and rows[0]["live"]:
                break
            self._live.lost("a claim found its advisory lock gone", pid)
        else:
            return []
        items = [
            InboxItem(r["update_id"], r["chat_key"], r["payload"], r["attempts"])
            for r in sorted(rows, key=lambda r: r["update_id"] or 0)
            if r["update_id"] is not None
        ]
        self._held.update(item.update_id for item in items)
        return items

    async def _outcome(self, update_ids: list[int], query: str, params: Any) -> int:
        # Forgotten even if the write fails: the lease then runs out and the update comes back.
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(query, params)
                return cur.rowcount
        finally:
            self._held.difference_update(update_ids)

    async def mark_processed(self, update_id: int) -> None:
        await self._outcome([update_id], PROCESSED, (update_id,))

    async def retry_later(self, update_id: int, error: str, delay_seconds: float) -> None:
        params = {"error": error, "delay": delay_seconds, "id": update_id, "key": self._live.key}
        await self._outcome([update_id], RETRY, params)

    async def park(self, update_id: int, error: str) -> None:
        params = {"error": error, "id": update_id, "key": self._live.key}
        await self._outcome([update_id], PARK, params)

    async def release(self, update_ids: list[int]) -> None:
        await self._outcome(update_ids, RELEASE, {"ids": update_ids, "key": self._live.key})

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
        async with self._pool.connection() as conn:
            cur = await conn.execute(PURGE, (older_than_seconds,))
            return cur.rowcount
