"""Apply numbered ``migrations/*.sql`` files once each, serialised across instances.

The files ship inside the installed package (the ``migrations`` package) and are read with
``importlib.resources``, so a wheel install migrates exactly like a checkout.
"""

from __future__ import annotations

import hashlib
import logging
import re
from importlib import resources
from importlib.resources.abc import Traversable

import attrs
import psycopg

from adapters.postgres.errors import connection_error

log = logging.getLogger(__name__)

MIGRATIONS_DIR: Traversable = resources.files("migrations")
NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

# A key derived server-side from a name: no chance of sending an out-of-range or mistyped
# integer, and it cannot collide with small hand-picked keys.
LOCK = "SELECT pg_advisory_lock(hashtextextended('kiebot:migrations', 0))"
UNLOCK = "SELECT pg_advisory_unlock(hashtextextended('kiebot:migrations', 0))"

TRACKING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        TEXT PRIMARY KEY,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """A migration file is misnamed, numbered twice, or failed to apply; one line."""


def discover(directory: Traversable = MIGRATIONS_DIR) -> list[Traversable]:
    """The migration files in order; two files with one number is an error, since the order
    between them would depend on the file system."""
    files = sorted(
        (p for p in directory.iterdir() if p.is_file() and p.name.endswith(".sql")),
        key=lambda p: p.name,
    )
    seen: dict[str, str] = {}
    for path in files:
        match = NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNN_lower_snake.sql")
        number = match.group(1)
        if number in seen:
            raise MigrationError(f"{path.name} and {seen[number]} share the number {number}")
        seen[number] = path.name
    return files


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


async def _apply_pending(conn: psycopg.AsyncConnection, files: list[Traversable]) -> list[str]:
    await conn.execute(TRACKING)
    cur = await conn.execute("SELECT name, checksum FROM schema_migrations")
    applied = dict(await cur.fetchall())
    done: list[str] = []
    for path in files:
        sql = path.read_text(encoding="utf-8")
        if path.name in applied:
            if applied[path.name] != _checksum(sql):
                log.warning("[MIGRATIONS] %s changed after it was applied; not re-run", path.name)
            continue
        try:
            async with conn.transaction():
                await conn.execute(sql)  # no parameters: psycopg sends it whole, many statements
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                    (path.name, _checksum(sql)),
                )
        except psycopg.Error as exc:
            log.error("[MIGRATIONS] Failed to apply %s: %s", path.name, _one_line(exc))
            raise MigrationError(f"failed to apply {path.name}: {_one_line(exc)}") from exc
        log.info("[MIGRATIONS] Applied %s", path.name)
        done.append(path.name)
    return done


async def apply_migrations(url: str, directory: Traversable = MIGRATIONS_DIR) -> list[str]:
    """Apply the pending files, each in its own transaction; returns the names applied.

    A dedicated connection holds a session advisory lock for the whole run, so a second
    instance starting at the same moment waits and then finds nothing left to do.
    """
    files = discover(directory)
    log.info("[MIGRATIONS] Found %d migration file(s)", len(files))
    if not files:
        raise MigrationError("the installed package holds no migration files (a broken build)")
    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    except (psycopg.Error, OSError, ValueError) as exc:
        raise connection_error(url, exc) from exc
    async with conn:
        await conn.execute(LOCK)
        try:
            done = await _apply_pending(conn, files)
        finally:
            if not conn.closed and not conn.broken:
                await conn.execute(UNLOCK)
    log.info("[MIGRATIONS] All migrations applied (%d new)", len(done))
    return done


@attrs.frozen
class SchemaStatus:
    """How the database compares with the migrations this package ships."""

    shipped: int
    applied: int
    missing: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        return self.shipped > 0 and not self.missing


async def schema_status(
    conn: psycopg.AsyncConnection[object], directory: Traversable = MIGRATIONS_DIR
) -> SchemaStatus:
    """Which shipped migrations the database has not applied (none shipped is never ok)."""
    names = [p.name for p in discover(directory)]
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    applied: set[str] = set()
    if row is not None and _first(row):
        cur = await conn.execute("SELECT name FROM schema_migrations")
        applied = {_first(r) for r in await cur.fetchall()}
    missing = tuple(n for n in names if n not in applied)
    return SchemaStatus(len(names), len(applied & set(names)), missing)


def _first(row: object) -> object:
    """The first column of a tuple or dict row (the pool hands out dict rows)."""
    return next(iter(row.values())) if isinstance(row, dict) else row[0]  # type: ignore[index]


def run_migrate(database_url: str | None, directory: Traversable = MIGRATIONS_DIR) -> int:
    """``kiebot migrate``: apply pending migrations; 0 on success, 1 with one error line.

    With no URL the embedded server is used (and stopped again), like the polling entrypoint.
    """
    import asyncio
    import sys

    from adapters.postgres.embedded import database_url_or_embedded
    from adapters.postgres.errors import DatabaseUnavailable

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = None
    try:
        url, server = database_url_or_embedded(database_url)
        asyncio.run(apply_migrations(url, directory))
    except (DatabaseUnavailable, MigrationError) as exc:
        print(f"[MIGRATIONS] {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
    return 0
