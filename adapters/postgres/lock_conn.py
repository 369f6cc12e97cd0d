"""LockConnection: the lock's own autocommit connection, every statement under a deadline.

Not from the pool: a session advisory lock must not ride along with a pooled connection,
or whoever borrows it next would hold our lock. Each statement runs as its own task, so a
timeout or the caller's cancellation never waits on psycopg's query cancellation (up to
10 s); the connection is then discarded, and closing it releases any lock the unfinished
statement may have taken.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

log = logging.getLogger(__name__)


class LockDbError(Exception):
    """A database failure or timeout under the lock adapter; one line; never leaves it."""


async def connect_dedicated(
    url: str, application_name: str, connect_timeout: float
) -> psycopg.AsyncConnection[Any]:
    """An autocommit connection of its own (not the pool's) whose session proves this process
    is alive, as an advisory lock held on it does. Keepalives let the server notice a process
    whose host vanished without closing the socket."""
    return await psycopg.AsyncConnection.connect(
        url,
        autocommit=True,
        connect_timeout=max(1, round(connect_timeout)),
        application_name=application_name,
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class LockConnection:
    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self._url = url
        self._connect_timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._cleanups: set[asyncio.Task[None]] = set()

    async def fetchone(
        self, sql: str, params: dict[str, Any], seconds: float
    ) -> tuple[Any, ...] | None:
        async def step() -> tuple[Any, ...] | None:
            conn = await self._connection()
            cur = await conn.execute(sql, params)
            return await cur.fetchone()

        task = asyncio.ensure_future(step())
        try:
            done, _ = await asyncio.wait({task}, timeout=seconds)
        except asyncio.CancelledError:
            self.discard(after=task)
            raise
        if not done:
            self.discard(after=task)
            raise LockDbError(f"no answer from PostgreSQL within {seconds:g}s")
        try:
            return task.result()
        except psycopg.errors.UndefinedTable as exc:
            log.error("[LOCK] Table lock_heartbeat is missing: apply migration 004 (%s)", exc)
            raise LockDbError(_one_line(exc)) from exc
        except (psycopg.Error, OSError) as exc:
            raise LockDbError(_one_line(exc)) from exc

    def discard(self, after: asyncio.Future[Any] | None = None) -> None:
        """Drop the connection now and close it in the background (after ``after`` ends)."""
        if after is not None:
            after.cancel()
        conn, self._conn = self._conn, None
        if conn is None:
            return

        async def close() -> None:
            if after is not None:
                await asyncio.wait({after})
            try:
                await conn.close()
            except (psycopg.Error, OSError) as exc:
                log.debug("[LOCK] closing the lock connection failed: %s", _one_line(exc))

        cleanup = asyncio.ensure_future(close())
        self._cleanups.add(cleanup)
        cleanup.add_done_callback(self._cleanups.discard)

    async def close(self, wait: float = 15.0) -> None:
        self.discard()
        if self._cleanups:
            await asyncio.wait(set(self._cleanups), timeout=wait)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await connect_dedicated(self._url, "kiebot-lock", self._connect_timeout)
        return self._conn
