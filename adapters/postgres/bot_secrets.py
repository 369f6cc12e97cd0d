"""Secrets generated once per deployment and shared by every instance (webhook path, token)."""

from __future__ import annotations

import secrets

from psycopg_pool import AsyncConnectionPool

from adapters.postgres.ledger import Conn

# The first instance's value wins; later ones (or a concurrent start) read it back.
ENSURE = """
WITH ins AS (
    INSERT INTO bot_secrets (name, value) VALUES (%(name)s, %(value)s)
    ON CONFLICT (name) DO NOTHING RETURNING value)
SELECT value FROM ins UNION ALL SELECT value FROM bot_secrets WHERE name = %(name)s
LIMIT 1
"""


async def ensure_secret(pool: AsyncConnectionPool[Conn], name: str) -> str:
    """The stored secret ``name``, created with 32 random bytes (URL-safe) the first time."""
    candidate = secrets.token_urlsafe(32)
    for _ in range(3):
        async with pool.connection() as conn:
            cur = await conn.execute(ENSURE, {"name": name, "value": candidate})
            row = await cur.fetchone()
        if row is not None:
            return str(row["value"])
        # A concurrent first insert committed after our snapshot: the next statement sees it.
    raise RuntimeError(f"bot secret {name} could not be stored")
