"""Open and close the connection pool the storage adapter runs on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from adapters.postgres.errors import DatabaseUnavailable, check_database, describe_target
from adapters.postgres.ledger import Conn
from adapters.postgres.storage import PostgresStorage


async def _configure(conn: Conn) -> None:
    # Timestamps come back in UTC whatever the server's default zone is.
    await conn.execute("SET TIME ZONE 'UTC'")


async def open_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, connect_timeout: float = 10.0
) -> AsyncConnectionPool[Conn]:
    """Check the database once (one-line ``DatabaseUnavailable`` on failure), then open a pool.

    Each connection is checked when it leaves the pool, so one killed by a server restart or
    ``pg_terminate_backend`` is replaced instead of failing the next command.
    """
    await check_database(url, connect_timeout)
    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=connect_timeout,
        open=False,
        connection_class=AsyncConnection[dict],  # type: ignore[arg-type]
        kwargs={"autocommit": True, "row_factory": dict_row},
        configure=_configure,
        check=AsyncConnectionPool.check_connection,
        name="kiebot",
    )
    try:
        await pool.open(wait=True, timeout=connect_timeout)
    except PoolTimeout as exc:
        await pool.close()
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {describe_target(url)}: pool start timed out"
        ) from exc
    return pool


@asynccontextmanager
async def postgres_storage(url: str, **pool_options: float) -> AsyncIterator[PostgresStorage]:
    """A ``PostgresStorage`` whose pool is closed on exit."""
    pool = await open_pool(url, **pool_options)  # type: ignore[arg-type]
    try:
        yield PostgresStorage(pool)
    finally:
        await pool.close()
