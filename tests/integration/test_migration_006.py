"""Migration 006 moves the outcomes that lived as prefixes of ``jobs.error`` into columns."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from adapters.postgres.migrations import apply_migrations, discover
from adapters.postgres.pool import postgres_storage
from core.domain.jobs import FailureKind, JobStatus
from tests.contract.factories import at, job, topup

pytestmark = pytest.mark.integration

MIGRATION = "006_job_outcomes.sql"

# (job id, status, error as the earlier code wrote it)
OLD_ROWS = [
    ("amb", "submitting", "ambiguous submit: createTask outcome unknown: HTTP 502"),
    ("amb-bare", "submitting", "ambiguous submit"),
    ("dl", "delivering", "download attempt 2: HTTP 404 for the result file"),
    (
        "gone",
        "delivered",
        "result not downloadable after 3 attempts: HTTP 404 for the result file",
    ),
    ("plain", "failed", "Kie.ai maintenance (Kie.ai 455: down)"),
    ("fresh", "queued", None),
]


def migrations_before_006(target: Path) -> Path:
    target.mkdir()
    for path in discover():
        if path.name != MIGRATION:
            shutil.copy(path, target / path.name)
    return target


async def test_006_moves_error_prefixes_into_typed_columns(
    empty_pg_url: str, tmp_path: Path
) -> None:
    old = migrations_before_006(tmp_path / "old")
    assert MIGRATION not in await apply_migrations(empty_pg_url, old)
    async with postgres_storage(empty_pg_url) as storage:
        await storage.post(topup("seed", 1, 10_000))
        for job_id, _, _ in OLD_ROWS:
            await storage.create_job_with_hold(job(job_id, updated_at=at(5)))
    with psycopg.connect(empty_pg_url, autocommit=True) as conn:
        for job_id, status, error in OLD_ROWS:
            conn.execute(
                "UPDATE jobs SET status = %s, error = %s WHERE id = %s", (status, error, job_id)
            )

    assert await apply_migrations(empty_pg_url) == [MIGRATION]

    async with postgres_storage(empty_pg_url) as storage:
        jobs = {job_id: await storage.get_job(job_id) for job_id, _, _ in OLD_ROWS}
    outcome = {
        job_id: (j.status, j.error, j.submit_ambiguous_at, j.delivery_attempts, j.failure)
        for job_id, j in jobs.items()
        if j is not None
    }
    assert outcome == {
        "amb": (
            JobStatus.SUBMITTING,
            "createTask outcome unknown: HTTP 502",
            at(5),  # when it was recorded: the row's last update
            0,
            None,
        ),
        "amb-bare": (JobStatus.SUBMITTING, None, at(5), 0, None),
        "dl": (JobStatus.DELIVERING, "HTTP 404 for the result file", None, 2, None),
        "gone": (
            JobStatus.DELIVERED,  # it was charged under the earlier rule; that stays visible
            "HTTP 404 for the result file",
            None,
            3,
            FailureKind.UNDELIVERABLE,
        ),
        "plain": (JobStatus.FAILED, "Kie.ai maintenance (Kie.ai 455: down)", None, 0, None),
        "fresh": (JobStatus.QUEUED, None, None, 0, None),
    }
    with psycopg.connect(empty_pg_url) as conn:
        prefixed = conn.execute(
            "SELECT count(*) FROM jobs WHERE error ~ '^(ambiguous submit|download attempt"
            " |result not downloadable)'"
        ).fetchone()
    assert prefixed == (0,)


async def test_006_refuses_an_unknown_failure_kind(pg_url: str) -> None:
    async with postgres_storage(pg_url) as storage:
        await storage.post(topup("seed", 1, 1_000))
        await storage.create_job_with_hold(job("j1"))
    with (
        psycopg.connect(pg_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute("UPDATE jobs SET failure = 'oops' WHERE id = 'j1'")
