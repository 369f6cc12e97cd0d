"""Lost connections: the pool replaces them and a confirmed job is neither lost nor doubled."""

from __future__ import annotations

import psycopg
import pytest

from adapters.postgres.errors import DatabaseUnavailable, check_database
from adapters.postgres.pool import open_pool
from adapters.postgres.storage import PostgresStorage
from core.domain.ledger import Balance
from tests.contract.factories import job, topup

pytestmark = pytest.mark.integration


async def kill_other_sessions(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        # The timeout form waits until each backend is gone, so nothing races the next query.
        cur = await conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))"
            " FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def test_commands_after_the_server_killed_every_connection_still_work(
    pg_url: str,
) -> None:
    pool = await open_pool(pg_url, min_size=3, max_size=3)
    storage = PostgresStorage(pool)
    try:
        await storage.post(topup("seed", 1, 1000))
        confirmed, _ = await storage.create_job_with_hold(job("j1", price=300))

        assert await kill_other_sessions(pg_url) == 3

        assert await storage.get_job("j1") == confirmed
        # The confirm is retried by the user (or the caller) after the lost connection:
        retried, new = await storage.create_job_with_hold(job("j1", price=300))
        assert (retried, new) == (confirmed, False)
        await storage.create_job_with_hold(job("j2", price=300))
        assert await storage.balance(1) == Balance(1000, 600)
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://bot:hunter22@127.0.0.1:1/kiebot", "bot@127.0.0.1:1/kiebot"),
        ("not a url at all", "DATABASE_URL is malformed"),
    ],
)
async def test_a_bad_database_url_is_one_line_without_the_password(
    url: str, expected: str
) -> None:
    with pytest.raises(DatabaseUnavailable) as err:
        await open_pool(url, connect_timeout=2)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message
    assert "hunter22" not in message


async def test_a_missing_database_names_it(pg_url: str) -> None:
    missing = psycopg.conninfo.make_conninfo(pg_url, dbname="kiebot_no_such_db")
    with pytest.raises(DatabaseUnavailable, match='database "kiebot_no_such_db" does not exist'):
        await check_database(missing)
