"""PostgresStorage: StoragePort on PostgreSQL; every claim is one arbitrated statement."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import attrs
from psycopg import errors
from psycopg_pool import AsyncConnectionPool

from adapters.postgres.ledger import Conn, lock_balance, post_in
from adapters.postgres.rows import (
    entry_from,
    job_from,
    job_params,
    result_json,
    user_from,
)
from core.domain.errors import IdempotencyConflict, JobNotFound
from core.domain.jobs import JOB_FIELDS_SETTABLE, FailureKind, Job, JobStatus, check_transition
from core.domain.ledger import Balance, EntryKind, LedgerEntry, capture, hold, release
from core.domain.users import User
from core.ports.free_quota import FreeClaim, FreeUse
from core.ports.storage import Posted, StoragePort

UPSERT_USER = """
INSERT INTO users (id, lang, created_at, username, first_name)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, first_name = EXCLUDED.first_name
RETURNING *, (xmax = 0) AS inserted
"""

INSERT_JOB = """
INSERT INTO jobs (
    id, confirm_key, user_id, chat_id, lang, model_id, sku_id, params, price, status,
    callback_token, created_at, updated_at, task_id, result, error, progress_message_id
)
VALUES (%(id)s, %(confirm_key)s, %(user_id)s, %(chat_id)s, %(lang)s, %(model_id)s, %(sku_id)s,
        %(params)s, %(price)s, %(status)s, %(callback_token)s, %(created_at)s, %(updated_at)s,
        %(task_id)s, %(result)s, %(error)s, %(progress_message_id)s)
ON CONFLICT DO NOTHING
RETURNING *
"""

# Uses still taken count against the day; a given-back one is free again.
COUNT_FREE_USES = """
SELECT count(*) AS used FROM free_uses
WHERE user_id = %s AND day = %s AND returned_at IS NULL
"""

INSERT_FREE_USE = """
INSERT INTO free_uses (job_id, user_id, day, created_at) VALUES (%s, %s, %s, %s)
"""

# Only a use still taken is given back, so the first release's time stays.
RETURN_FREE_USE = """
UPDATE free_uses SET returned_at = %s WHERE job_id = %s AND returned_at IS NULL
"""

# One static statement for every combination of changes: each settable field carries a flag,
# so no placeholder numbering is ever assembled at run time.
TRANSITION = """
UPDATE jobs SET
    status = %(to)s,
    updated_at = %(now)s,
    task_id = CASE WHEN %(set_task_id)s THEN %(task_id)s::text ELSE task_id END,
    result = CASE WHEN %(set_result)s THEN %(result)s::jsonb ELSE result END,
    error = CASE WHEN %(set_error)s THEN %(error)s::text ELSE error END,
    progress_message_id = CASE WHEN %(set_progress_message_id)s
        THEN %(progress_message_id)s::bigint ELSE progress_message_id END,
    failure = CASE WHEN %(set_failure)s THEN %(failure)s::text ELSE failure END,
    failure_reason = CASE WHEN %(set_failure_reason)s
        THEN %(failure_reason)s::text ELSE failure_reason END,
    submit_ambiguous_at = CASE WHEN %(set_submit_ambiguous_at)s
        THEN %(submit_ambiguous_at)s::timestamptz ELSE submit_ambiguous_at END,
    delivery_attempts = CASE WHEN %(set_delivery_attempts)s
        THEN %(delivery_attempts)s::integer ELSE delivery_attempts END
WHERE id = %(id)s AND status = ANY(%(expected)s::text[])
RETURNING *
"""

# Staleness is a timestamp computed by the caller, never interval arithmetic on a parameter.
CLAIM_DELIVERY = """
UPDATE jobs SET status = 'delivering', updated_at = %(now)s
WHERE id = %(id)s
  AND (status = 'succeeded' OR (status = 'delivering' AND updated_at < %(stale_before)s))
RETURNING *
"""

# Claims for several runners in several processes: each picks the oldest rows nobody else has
# locked (SKIP LOCKED), so two claims never return the same job and never wait for each other.
# The outer WHERE repeats the state test, so a row that changed since it was picked is left.
CLAIM_QUEUED = """
WITH picked AS (
    SELECT id, updated_at AS was, seq FROM jobs
    WHERE status = 'queued' AND updated_at <= %(now)s
    ORDER BY updated_at, seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET status = 'submitting', updated_at = %(now)s
FROM picked
WHERE jobs.id = picked.id AND jobs.status = 'queued'
RETURNING jobs.*, picked.was AS picked_was, picked.seq AS picked_seq
"""

CLAIM_DELIVERIES = """
WITH picked AS (
    SELECT id, updated_at AS was, seq FROM jobs
    WHERE status = 'succeeded' OR (status = 'delivering' AND updated_at < %(stale_before)s)
    ORDER BY updated_at, seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET status = 'delivering', updated_at = %(now)s
FROM picked
WHERE jobs.id = picked.id
  AND (jobs.status = 'succeeded'
       OR (jobs.status = 'delivering' AND jobs.updated_at < %(stale_before)s))
RETURNING jobs.*, picked.was AS picked_was, picked.seq AS picked_seq
"""


def _transition_params(
    job_id: str,
    expected: Iterable[JobStatus],
    to: JobStatus,
    now: datetime,
    changes: dict[str, Any],
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "id": job_id,
        "expected": [JobStatus(s).value for s in expected],
        "to": to.value,
        "now": now,
    }
    for field in sorted(JOB_FIELDS_SETTABLE):
        params[f"set_{field}"] = field in changes
        value = changes.get(field)
        if field == "result":
            value = result_json(value or ())
        elif field == "failure" and value is not None:
            value = FailureKind(value).value
        params[field] = value
    return params


def _claimed(rows: list[dict[str, Any]]) -> list[Job]:
    """RETURNING has no order: put the claimed jobs back in the order they were picked."""
    rows.sort(key=lambda r: (r["picked_was"], r["picked_seq"]))
    return [job_from(r) for r in rows]


async def _free_used(conn: Conn, user_id: int, day: date) -> int:
    cur = await conn.execute(COUNT_FREE_USES, (user_id, day))
    row = await cur.fetchone()
    return 0 if row is None else int(row["used"])


def _check_changes(changes: dict[str, Any]) -> None:
    unknown = set(changes) - JOB_FIELDS_SETTABLE
    if unknown:
        raise ValueError(f"cannot set {sorted(unknown)} on a job")


class PostgresStorage(StoragePort):
    """Uses a pool of autocommit connections; multi-statement commands open a transaction."""

    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self.pool = pool

    async def _one(self, query: str, params: Any) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()

    async def _all(self, query: str, params: Any) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchall()

    async def upsert_user(self, user: User) -> tuple[User, bool]:
        row = await self._one(
            UPSERT_USER, (user.id, user.lang, user.created_at, user.username, user.first_name)
        )
        assert row is not None
        return user_from(row), bool(row["inserted"])

    async def get_user(self, user_id: int) -> User | None:
        row = await self._one("SELECT * FROM users WHERE id = %s", (user_id,))
        return None if row is None else user_from(row)

    async def set_language(self, user_id: int, lang: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE users SET lang = %s WHERE id = %s", (lang, user_id))

    async def post(self, entry: LedgerEntry) -> Posted:
        async with self.pool.connection() as conn, conn.transaction():
            return await post_in(conn, entry)

    async def balance(self, user_id: int) -> Balance:
        row = await self._one("SELECT total, held FROM balances WHERE user_id = %s", (user_id,))
        return Balance(0, 0) if row is None else Balance(row["total"], row["held"])

    async def entries(self, user_id: int, limit: int = 10) -> list[LedgerEntry]:
        rows = await self._all(
            "SELECT * FROM ledger_entries WHERE user_id = %s ORDER BY seq DESC LIMIT %s",
            (user_id, limit),
        )
        return [entry_from(r) for r in rows]

    async def create_job_with_hold(
        self, job: Job, free: FreeClaim | None = None
    ) -> tuple[Job, bool]:
        async with self.pool.connection() as conn, conn.transaction():
            # The user's balance row is locked first, so concurrent confirms queue up here and
            # each sees the holds (and the free uses) of those before it.
            await lock_balance(conn, job.user_id)
            is_free = (
                free is not None and await _free_used(conn, job.user_id, free.day) < free.quota
            )
            if is_free:
                job = attrs.evolve(job, price=0)
            cur = await conn.execute(INSERT_JOB, job_params(job))
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(
                    "SELECT * FROM jobs WHERE confirm_key = %s", (job.confirm_key,)
                )
                existing = await cur.fetchone()
                if existing is None:  # the id (or task id) belongs to another confirmation
                    raise IdempotencyConflict(job.id)
                return job_from(existing), False
            if free is not None and is_free:
                # The job's id is the key: a job can never take two uses.
                await conn.execute(
                    INSERT_FREE_USE, (job.id, job.user_id, free.day, job.created_at)
                )
            await post_in(conn, hold(job.id, job.user_id, job.price))
            return job_from(row), True

    async def free_used(self, user_id: int, day: date) -> int:
        async with self.pool.connection() as conn:
            return await _free_used(conn, user_id, day)

    async def free_use(self, job_id: str) -> FreeUse | None:
        row = await self._one("SELECT * FROM free_uses WHERE job_id = %s", (job_id,))
        if row is None:
            return None
        return FreeUse(
            job_id=row["job_id"],
            user_id=row["user_id"],
            day=row["day"],
            created_at=row["created_at"],
            returned_at=row["returned_at"],
        )

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._one("SELECT * FROM jobs WHERE id = %s", (job_id,))
        return None if row is None else job_from(row)

    async def _update(self, conn: Conn, query: str, params: dict[str, Any]) -> Job | None:
        try:
            cur = await conn.execute(query, params)
        except errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "jobs_task_id_key":
                raise IdempotencyConflict(str(params.get("task_id"))) from exc
            raise
        row = await cur.fetchone()
        if row is not None:
            return job_from(row)
        # Jobs are never deleted, so a miss is either "not there" or "not in that state".
        cur = await conn.execute("SELECT 1 FROM jobs WHERE id = %s", (params["id"],))
        if await cur.fetchone() is None:
            raise JobNotFound(params["id"])
        return None

    async def transition(
        self,
        job_id: str,
        expected: Iterable[JobStatus],
        to: JobStatus,
        now: datetime,
        **changes: Any,
    ) -> Job | None:
        _check_changes(changes)
        check_transition(expected, to)
        params = _transition_params(job_id, expected, to, now, changes)
        async with self.pool.connection() as conn:
            return await self._update(conn, TRANSITION, params)

    async def settle(
        self,
        job_id: str,
        expected: Iterable[JobStatus],
        to: JobStatus,
        resolution: EntryKind,
        now: datetime,
        **changes: Any,
    ) -> Job | None:
        if resolution not in (EntryKind.CAPTURE, EntryKind.RELEASE):
            raise ValueError(f"a hold resolves by capture or release, not {resolution}")
        _check_changes(changes)
        check_transition(expected, to, resolution)
        params = _transition_params(job_id, expected, to, now, changes)
        make = capture if resolution is EntryKind.CAPTURE else release
        async with self.pool.connection() as conn, conn.transaction():
            job = await self._update(conn, TRANSITION, params)
            if job is not None:
                # Raising here rolls the transition back with it: both or neither.
                await post_in(conn, make(job.id, job.user_id, job.price))
                if resolution is EntryKind.RELEASE:
                    await conn.execute(RETURN_FREE_USE, (now, job.id))
            return job

    async def claim_delivery(
        self, job_id: str, now: datetime, stale_before: datetime
    ) -> Job | None:
        params = {"id": job_id, "now": now, "stale_before": stale_before}
        async with self.pool.connection() as conn:
            return await self._update(conn, CLAIM_DELIVERY, params)

    async def set_progress_message(self, job_id: str, message_id: int) -> None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE jobs SET progress_message_id = %s WHERE id = %s", (message_id, job_id)
            )
            if cur.rowcount == 0:
                raise JobNotFound(job_id)

    async def claim_queued(self, now: datetime, limit: int) -> list[Job]:
        if limit <= 0:
            return []
        return _claimed(await self._all(CLAIM_QUEUED, {"now": now, "limit": limit}))

    async def claim_deliveries(
        self, now: datetime, stale_before: datetime, limit: int
    ) -> list[Job]:
        if limit <= 0:
            return []
        params = {"now": now, "stale_before": stale_before, "limit": limit}
        return _claimed(await self._all(CLAIM_DELIVERIES, params))

    async def jobs_in(
        self, statuses: Iterable[JobStatus], updated_before: datetime, limit: int = 100
    ) -> list[Job]:
        rows = await self._all(
            "SELECT * FROM jobs"
            " WHERE status = ANY(%s::text[]) AND updated_at <= %s"
            " ORDER BY updated_at, seq LIMIT %s",
            ([JobStatus(s).value for s in statuses], updated_before, limit),
        )
        return [job_from(r) for r in rows]

    async def user_jobs(self, user_id: int, limit: int = 10, offset: int = 0) -> list[Job]:
        rows = await self._all(
            "SELECT * FROM jobs WHERE user_id = %s"
            " ORDER BY created_at DESC, seq LIMIT %s OFFSET %s",
            (user_id, limit, offset),
        )
        return [job_from(r) for r in rows]
