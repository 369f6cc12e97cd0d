"""Turn connection failures into one line an operator can act on, without the password."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict


class DatabaseUnavailable(Exception):
    """The database URL is malformed or the server cannot be reached; the message is one line."""


def describe_target(url: str) -> str:
    """``user@host:port/dbname`` from a URL or conninfo string; never the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "an unparseable DATABASE_URL"
    host = str(params.get("host") or "localhost")
    port = str(params.get("port") or "5432")
    user = params.get("user")
    dbname = params.get("dbname") or user or "?"
    who = f"{user}@" if user else ""
    return f"{who}{host}:{port}/{dbname}"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # libpq adds hints on later lines ("Is the server running…"); the first line names the cause.
    return " ".join(lines[0].split())


def connection_error(url: str, exc: BaseException) -> DatabaseUnavailable:
    """Build the one-line error for a failed connection attempt to ``url``."""
    if isinstance(exc, psycopg.ProgrammingError):
        # Raised by the conninfo parser, before any network traffic.
        return DatabaseUnavailable(f"DATABASE_URL is malformed: {_first_line(exc)}")
    return DatabaseUnavailable(
        f"cannot connect to PostgreSQL at {describe_target(url)}: {_first_line(exc)}"
    )


async def check_database(url: str, connect_timeout: float = 10.0) -> None:
    """Connect once and run a trivial query; raise ``DatabaseUnavailable`` on any failure."""
    try:
        seconds = max(1, round(connect_timeout))
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=seconds)
    except (psycopg.Error, OSError, ValueError) as exc:
        raise connection_error(url, exc) from exc
    try:
        await conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise connection_error(url, exc) from exc
    finally:
        await conn.close()
