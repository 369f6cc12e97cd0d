"""PostgresCallbackStore: the CallbackStorePort on ``kie_callbacks`` (migrations 003 and 006).

Each method is one autocommit statement, so a callback is durable the moment ``save``
returns — before the 200 goes back to Kie.ai.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from adapters.postgres.ledger import Conn
from adapters.postgres.rows import result_json
from core.domain.catalog import MediaKind
from core.domain.jobs import FailureKind, ResultFile
from core.ports.callbacks import CallbackStorePort, ProviderCallback
from core.ports.generation import TaskState, TaskStatus

SAVE = """
INSERT INTO kie_callbacks
    (job_id, task_id, state, files, error, failure, reason, raw, received_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id
"""
PENDING = """
SELECT id, job_id, task_id, state, files, error, failure, reason, raw, received_at
FROM kie_callbacks
WHERE job_id = %s AND done_at IS NULL ORDER BY id
"""
MARK_DONE = "UPDATE kie_callbacks SET done_at = %s WHERE id = %s AND done_at IS NULL"
JOBS_WITH_PENDING = """
SELECT job_id FROM kie_callbacks WHERE done_at IS NULL
GROUP BY job_id ORDER BY min(id) LIMIT %s
"""


def _callback(row: dict[str, Any]) -> ProviderCallback:
    files = tuple(ResultFile(MediaKind(f["kind"]), f["url"]) for f in row["files"])
    # Rows stored before the kind was kept have none: those failures were the provider's.
    failure = FailureKind(row["failure"]) if row["failure"] else FailureKind.PROVIDER_ERROR
    status = TaskStatus(
        TaskState(row["state"]), files, row["error"], failure=failure, reason=row["reason"]
    )
    return ProviderCallback(row["job_id"], row["task_id"], status, row["received_at"], row["raw"])


class PostgresCallbackStore(CallbackStorePort):
    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self.pool = pool

    async def save(self, callback: ProviderCallback) -> int:
        status = callback.status
        params = (
            callback.job_id,
            callback.task_id,
            status.state.value,
            result_json(status.files),
            status.error,
            status.failure.value,
            status.reason,
            callback.raw,
            callback.received_at,
        )
        async with self.pool.connection() as conn:
            row = await (await conn.execute(SAVE, params)).fetchone()
        assert row is not None  # INSERT … RETURNING always yields the row
        return int(row["id"])

    async def pending(self, job_id: str) -> list[tuple[int, ProviderCallback]]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(PENDING, (job_id,))).fetchall()
        return [(int(r["id"]), _callback(r)) for r in rows]

    async def mark_done(self, callback_id: int, now: datetime) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(MARK_DONE, (now, callback_id))

    async def jobs_with_pending(self, limit: int = 100) -> list[str]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(JOBS_WITH_PENDING, (limit,))).fetchall()
        return [str(r["job_id"]) for r in rows]
