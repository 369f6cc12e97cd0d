"""Post one ledger entry in the caller's transaction, serialised on the user's balance row."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from adapters.postgres.rows import entry_from
from core.domain.errors import IdempotencyConflict, InsufficientFunds
from core.domain.ledger import Balance, LedgerEntry
from core.ports.storage import Posted

# Creates the row on a user's first command and locks it either way, in one statement: every
# money command of that user waits here, so the funds check below cannot race another command.
LOCK_BALANCE = """
INSERT INTO balances (user_id) VALUES (%s)
ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
RETURNING total, held
"""

INSERT_ENTRY = """
INSERT INTO ledger_entries (key, user_id, kind, amount, held, job_id, reason, created_at)
VALUES (%(key)s, %(user_id)s, %(kind)s, %(amount)s, %(held)s, %(job_id)s, %(reason)s,
        COALESCE(%(created_at)s::timestamptz, now()))
ON CONFLICT (key) DO NOTHING
RETURNING seq
"""

SELECT_BY_KEY = "SELECT * FROM ledger_entries WHERE key = %s"

Conn = AsyncConnection[DictRow]


async def lock_balance(conn: Conn, user_id: int) -> Balance:
    cur = await conn.execute(LOCK_BALANCE, (user_id,))
    row = await cur.fetchone()
    assert row is not None  # INSERT … ON CONFLICT DO UPDATE always returns the row
    return Balance(row["total"], row["held"])


async def _replay(conn: Conn, entry: LedgerEntry) -> Posted | None:
    cur = await conn.execute(SELECT_BY_KEY, (entry.key,))
    row = await cur.fetchone()
    if row is None:
        return None
    if entry_from(row).same_command(entry):
        return Posted.DUPLICATE
    raise IdempotencyConflict(entry.key)


async def post_in(conn: Conn, entry: LedgerEntry) -> Posted:
    """Append ``entry``; must run inside a transaction, which the caller rolls back on error."""
    balance = await lock_balance(conn, entry.user_id)
    replayed = await _replay(conn, entry)
    if replayed is not None:
        return replayed
    if entry.debits_available and balance.available + entry.amount - entry.held < 0:
        raise InsufficientFunds(balance.available, entry.held - entry.amount)
    params: dict[str, Any] = {
        "key": entry.key,
        "user_id": entry.user_id,
        "kind": entry.kind.value,
        "amount": entry.amount,
        "held": entry.held,
        "job_id": entry.job_id,
        "reason": entry.reason,
        "created_at": entry.created_at,
    }
    cur = await conn.execute(INSERT_ENTRY, params)
    if await cur.fetchone() is not None:
        return Posted.APPLIED
    # Another user's transaction took the key after our look-up; the constraint arbitrated.
    replayed = await _replay(conn, entry)
    assert replayed is not None
    return replayed
