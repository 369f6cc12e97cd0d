"""PostgreSQL for the integration and contract suites.

``TEST_DATABASE_URL`` (any database on a server we may CREATE DATABASE on) is used when set;
otherwise an embedded server is started in a temporary directory and deleted afterwards, so the
suite needs no PostgreSQL service. Each run migrates one uniquely named database; each test gets
a copy of it (``CREATE DATABASE … TEMPLATE``), which is fast and keeps tests independent.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator

import attrs
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from adapters.postgres.embedded import EmbeddedServer, start_embedded
from adapters.postgres.migrations import apply_migrations
from adapters.postgres.pool import open_pool
from adapters.postgres.storage import PostgresStorage


@attrs.define
class PgCluster:
    admin_url: str
    run_name: str
    _created: list[str] = attrs.Factory(list)
    _counter: itertools.count[int] = attrs.Factory(lambda: itertools.count(1))

    def url(self, dbname: str) -> str:
        return make_conninfo(self.admin_url, dbname=dbname)

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def create_database(self, template: str = "template0") -> str:
        name = f"{self.run_name}_{next(self._counter)}"
        with self._admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        self._created.append(name)
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self._created:
            self._created.remove(name)

    def drop_all(self) -> None:
        for name in reversed(list(self._created)):
            self.drop_database(name)


class _Shared:
    """One server and one run database for the whole session.

    The fixtures below are imported by two conftest modules, which gives each its own
    session-scoped instance; they share this state and the last one out cleans up.
    """

    cluster: PgCluster | None = None
    server: EmbeddedServer | None = None
    template: str | None = None
    users = 0


def _acquire() -> PgCluster:
    if _Shared.cluster is None:
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            # Short path under /tmp: the Unix socket lives in pgdata and its path is capped at
            # ~100 characters; as root the library opens up the parent directories.
            _Shared.server = start_embedded(
                tempfile.mkdtemp(prefix="kiebot-pg-"), cleanup_mode="delete"
            )
            url = _Shared.server.url
        _Shared.cluster = PgCluster(url, f"kiebot_test_{secrets.token_hex(4)}")
    _Shared.users += 1
    return _Shared.cluster


def _release() -> None:
    _Shared.users -= 1
    if _Shared.users > 0 or _Shared.cluster is None:
        return
    try:
        _Shared.cluster.drop_all()
    finally:
        if _Shared.server is not None:
            _Shared.server.stop()  # stops the postmaster by its pid and deletes pgdata
        _Shared.cluster = _Shared.server = _Shared.template = None


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = _acquire()
    try:
        yield cluster
    finally:
        _release()


@pytest.fixture(scope="session")
def migrated_template(pg_cluster: PgCluster) -> str:
    """The run's database, migrated once; per-test databases are copies of it."""
    if _Shared.template is None:
        name = pg_cluster.create_database()
        asyncio.run(apply_migrations(pg_cluster.url(name)))
        _Shared.template = name
    return _Shared.template


@pytest.fixture
def pg_url(pg_cluster: PgCluster, migrated_template: str) -> Iterator[str]:
    """A fresh, fully migrated database for this test."""
    name = pg_cluster.create_database(template=migrated_template)
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture
def empty_pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh database with no tables at all."""
    name = pg_cluster.create_database()
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture
async def pg_storage(pg_url: str) -> AsyncIterator[PostgresStorage]:
    pool = await open_pool(pg_url, max_size=20)
    try:
        yield PostgresStorage(pool)
    finally:
        await pool.close()
