"""The migration runner: applies each file once, keeps data, fails without half-applying."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from pathlib import Path

import psycopg
import pytest

from adapters.postgres.migrations import (
    MIGRATIONS_DIR,
    MigrationError,
    apply_migrations,
    discover,
    run_migrate,
)
from adapters.postgres.pool import postgres_storage
from core.domain.ledger import Balance
from tests.contract.factories import job, topup, user

pytestmark = pytest.mark.integration

SHIPPED = [p.name for p in discover()]


def copy_migrations(target: Path, upto: str | None = None) -> Path:
    target.mkdir()
    for path in discover():
        shutil.copy(path, target / path.name)
        if path.name == upto:
            break
    return target


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def applied(url: str) -> list[str]:
    return [r[0] for r in query(url, "SELECT name FROM schema_migrations ORDER BY name")]


def columns(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [r[0] for r in rows]


async def test_an_empty_database_gets_every_migration(
    empty_pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.postgres.migrations")
    assert await apply_migrations(empty_pg_url) == SHIPPED
    assert applied(empty_pg_url) == SHIPPED
    assert f"[MIGRATIONS] Found {len(SHIPPED)} migration file(s)" in caplog.messages
    assert "[MIGRATIONS] Applied 001_core.sql" in caplog.messages
    assert any(m.startswith("[MIGRATIONS] All migrations applied") for m in caplog.messages)
    assert {"users", "ledger_entries", "balances", "jobs"} <= {
        r[0] for r in query(empty_pg_url, "SELECT tablename FROM pg_tables")
    }


async def test_a_restart_reapplies_nothing_and_keeps_the_data(pg_url: str) -> None:
    # A migration re-run at boot must never drop the tables it created.
    async with postgres_storage(pg_url) as storage:
        await storage.post(topup("pay:1", 1, 500))
    assert await apply_migrations(pg_url) == []
    async with postgres_storage(pg_url) as storage:
        assert await storage.balance(1) == Balance(500, 0)


async def test_data_survives_an_upgrade_from_the_previous_migration(
    empty_pg_url: str, tmp_path: Path
) -> None:
    old = copy_migrations(tmp_path / "old", upto="001_core.sql")
    assert await apply_migrations(empty_pg_url, old) == ["001_core.sql"]
    async with postgres_storage(empty_pg_url) as storage:
        await storage.upsert_user(user(1))
        await storage.post(topup("pay:1", 1, 500))
        await storage.create_job_with_hold(job("j1", price=200))

    new = copy_migrations(tmp_path / "new")
    (new / "999_users_nickname.sql").write_text(
        "ALTER TABLE users ADD COLUMN nickname TEXT;\n"
        "UPDATE users SET nickname = username WHERE nickname IS NULL;\n"
    )
    later = [name for name in SHIPPED if name != "001_core.sql"]
    assert await apply_migrations(empty_pg_url, new) == [*later, "999_users_nickname.sql"]

    async with postgres_storage(empty_pg_url) as storage:
        assert await storage.get_user(1) == user(1)
        assert await storage.balance(1) == Balance(500, 200)
        assert await storage.get_job("j1") == job("j1", price=200)
    assert query(empty_pg_url, "SELECT nickname FROM users") == [("ann",)]


async def test_a_failing_migration_leaves_the_schema_as_it_was(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = copy_migrations(tmp_path / "m")
    broken = directory / "998_broken.sql"
    broken.write_text(
        "CREATE TABLE half_done (id INT);\n"
        "ALTER TABLE users ADD COLUMN doomed TEXT;\n"
        "SELECT no_such_column FROM users;\n"
    )
    before = columns(pg_url, "users")
    caplog.set_level(logging.INFO, logger="adapters.postgres.migrations")
    with pytest.raises(MigrationError, match=r"998_broken\.sql"):
        await apply_migrations(pg_url, directory)
    failed = [m for m in caplog.messages if m.startswith("[MIGRATIONS] Failed to apply")]
    assert len(failed) == 1
    assert re.match(r"\[MIGRATIONS\] Failed to apply 998_broken\.sql: .*no_such_column", failed[0])
    assert columns(pg_url, "users") == before
    assert columns(pg_url, "half_done") == []
    assert applied(pg_url) == SHIPPED

    broken.write_text("CREATE TABLE half_done (id INT);\n")  # the fix ships; the next start
    assert await apply_migrations(pg_url, directory) == ["998_broken.sql"]


async def test_an_edited_applied_file_is_reported_not_rerun(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = copy_migrations(tmp_path / "m")
    edited = directory / "001_core.sql"
    edited.write_text(edited.read_text() + "\nCREATE TABLE sneaky (id INT);\n")
    caplog.set_level(logging.INFO, logger="adapters.postgres.migrations")
    assert await apply_migrations(pg_url, directory) == []
    assert "[MIGRATIONS] 001_core.sql changed after it was applied; not re-run" in caplog.messages
    assert columns(pg_url, "sneaky") == []


async def test_two_runners_starting_together_apply_each_file_once(
    empty_pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.postgres.migrations")
    blocker = await psycopg.AsyncConnection.connect(empty_pg_url, autocommit=True)
    async with blocker:
        # Hold the runners' lock so both are provably waiting, then let them race.
        await blocker.execute("SELECT pg_advisory_lock(hashtextextended('kiebot:migrations', 0))")
        runs = asyncio.gather(apply_migrations(empty_pg_url), apply_migrations(empty_pg_url))
        waiting = asyncio.ensure_future(runs)
        for _ in range(1000):  # polls a condition (both runners queued on the lock)
            if await waiters(blocker) >= 2:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the runners never queued on the advisory lock")
        await blocker.execute(
            "SELECT pg_advisory_unlock(hashtextextended('kiebot:migrations', 0))"
        )
        first, second = await waiting
    assert sorted(first + second) == sorted(SHIPPED)
    assert applied(empty_pg_url) == SHIPPED
    assert sum(m.startswith("[MIGRATIONS] Applied") for m in caplog.messages) == len(SHIPPED)


async def waiters(conn: psycopg.AsyncConnection) -> int:
    cur = await conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


def test_discover_refuses_duplicate_numbers_and_odd_names(tmp_path: Path) -> None:
    (tmp_path / "007_a.sql").write_text("SELECT 1;")
    (tmp_path / "007_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="share the number 007"):
        discover(tmp_path)
    (tmp_path / "007_b.sql").unlink()
    (tmp_path / "8_fix.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"8_fix\.sql"):
        discover(tmp_path)


# TRUNCATE only as a statement: "BEFORE TRUNCATE ON" in a trigger definition is fine.
DESTRUCTIVE = re.compile(
    r"\bDROP\s+(TABLE|COLUMN|SCHEMA)\b|(^|;)\s*TRUNCATE\b|\bDELETE\s+FROM\b", re.I
)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_migrations_are_never_destructive(name: str) -> None:
    sql = re.sub(r"--[^\n]*", "", (MIGRATIONS_DIR / name).read_text())
    assert DESTRUCTIVE.search(sql) is None


def test_run_migrate_reports_an_unreachable_database_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_migrate("postgresql://kiebot:secret@127.0.0.1:1/kiebot") == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "127.0.0.1:1/kiebot" in err
    assert "secret" not in err


def test_run_migrate_applies_pending_files(empty_pg_url: str) -> None:
    assert run_migrate(empty_pg_url) == 0
    assert applied(empty_pg_url) == SHIPPED
