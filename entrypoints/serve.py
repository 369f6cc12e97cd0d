"""Both runtimes' start-up and shutdown, ordered so the port answers within a second.

1. bind the HTTP port with a minimal app (/health "starting"; webhook 503 until ready);
2. database: DATABASE_URL or the embedded server, migrations, pool; webhook ingest goes live
   (it needs only the pool, not aiogram);
3. import aiogram in a thread (~3.5 s) while the loop keeps answering; start inbox workers and
   the lock supervisor (ACTIVE runs polling or setWebhook, and the singleton jobs);
4. on SIGTERM: refuse new updates (503 / stop polling), drain workers, release the lock, close
   the pool, stop the embedded server if we started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import signal
import sys
from typing import Any, Literal

from adapters.http.app import Ingest, build_app
from adapters.http.health import HealthState
from adapters.http.metrics import INBOX_DEPTH, PrometheusMetrics
from core.usecases.ingest import IngestUpdate
from entrypoints.http_server import HttpServer
from entrypoints.logs import redact_also
from entrypoints.settings import ConfigError, Settings

log = logging.getLogger(__name__)

Mode = Literal["webhook", "polling"]


class StartupError(Exception):
    """One line for the operator; the process exits non-zero without a traceback."""


async def _database(settings: Settings, mode: Mode) -> tuple[str, Any]:
    """The database URL, and the embedded server if this process started one."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value(), None
    if mode == "webhook":
        raise ConfigError(["DATABASE_URL: webhook mode needs PostgreSQL; set DATABASE_URL"])
    from adapters.postgres.embedded import start_embedded

    server = await asyncio.to_thread(start_embedded)
    return server.url, server


async def _refresh_health(health: HealthState, inbox: Any, runtime: Any) -> None:
    """Keep /health and the depth gauge current off the request path."""
    tick = 0
    while True:
        health.update_lock(**runtime.supervisor.snapshot().as_dict())
        health.duties = dict(runtime.duties.status())
        if tick % 5 == 0:
            with contextlib.suppress(Exception):
                health.inbox_depth = await inbox.depth()
                INBOX_DEPTH.set(health.inbox_depth)
        tick += 1
        await asyncio.sleep(1.0)


async def serve(settings: Settings, mode: Mode) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    health = HealthState(storage="postgres", kie_mode=settings.generation_mode)
    ingest = Ingest() if mode == "webhook" else None
    app = build_app(health, ingest)
    http = HttpServer(app, settings.host, settings.port)
    embedded = pool = runtime = refresher = None
    try:
        await http.start()
        log.info("[STARTUP] %s: listening on %s:%d", mode, settings.host, settings.port)
        url, embedded = await _database(settings, mode)

        from adapters.postgres.errors import DatabaseUnavailable
        from adapters.postgres.migrations import MigrationError, apply_migrations, schema_status
        from adapters.postgres.pool import open_pool

        try:
            await apply_migrations(url)
            pool = await open_pool(url, max_size=settings.db_maxconn)
            async with pool.connection() as conn:
                schema = await schema_status(conn)
        except (DatabaseUnavailable, MigrationError) as exc:
            raise StartupError(str(exc)) from None
        health.migrations_applied, health.migrations_count = schema.up_to_date, schema.applied
        if not schema.up_to_date:
            raise StartupError(f"schema behind the package: missing {', '.join(schema.missing)}")

        from adapters.postgres.inbox import PostgresInbox

        inbox = PostgresInbox(pool)
        if ingest is not None:
            await _open_ingest(ingest, settings, pool, inbox)

        # The heavy part: aiogram, the container, the handlers.
        bot_runtime = await asyncio.to_thread(importlib.import_module, "entrypoints.bot_runtime")
        runtime = bot_runtime.BotRuntime(settings, mode, url, pool, inbox, ingest)
        for route in runtime.http_routes():
            app.register(route)
        await runtime.start()
        refresher = asyncio.create_task(_refresh_health(health, inbox, runtime))
        gc.collect()
        gc.freeze()  # start-up objects (aiogram types) leave the GC's scans: no p99 pauses
        health.status = "ok"
        log.info("[STARTUP] %s ready: workers=%d", mode, settings.inbox_workers)
        return await _until_stopped(stop, runtime)
    except StartupError as exc:
        print(f"[STARTUP] database error: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"[STARTUP] config error: {problem}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"[STARTUP] {exc}", file=sys.stderr)
        return 1
    finally:
        health.status = "stopping"
        if ingest is not None:
            ingest.draining = True  # 503: Telegram keeps the update and retries
        if refresher is not None:
            refresher.cancel()
        if runtime is not None:
            await runtime.stop(settings.shutdown_grace_seconds)
        if pool is not None:
            await pool.close()
        await http.stop()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        log.info("[SHUTDOWN] stopped")


async def _until_stopped(stop: asyncio.Event, runtime: Any) -> int:
    """0 after SIGTERM/SIGINT; 1 when a runtime service died, so the platform restarts us."""
    stopped = asyncio.create_task(stop.wait())
    watched = asyncio.create_task(runtime.watch())
    done, _ = await asyncio.wait({stopped, watched}, return_when=asyncio.FIRST_COMPLETED)
    if stopped in done:
        watched.cancel()
        log.info("[SHUTDOWN] SIGTERM: draining")
        return 0
    stopped.cancel()
    exc = None if watched.cancelled() else watched.exception()
    log.error("[SHUTDOWN] a runtime service died; exiting to be restarted", exc_info=exc)
    return 1


async def _open_ingest(ingest: Ingest, settings: Settings, pool: Any, inbox: Any) -> None:
    from adapters.postgres.bot_secrets import ensure_secret

    path, token = settings.webhook_path_secret, settings.webhook_secret_token
    ingest.path_secret = path.get_secret_value() if path else await ensure_secret(pool, "path")
    ingest.secret_token = (
        token.get_secret_value() if token else await ensure_secret(pool, "secret_token")
    )
    redact_also(ingest.path_secret, ingest.secret_token)
    # The inbox workers do not exist yet; the bot runtime sets ``on_stored`` once they do.
    ingest.store = IngestUpdate(inbox, PrometheusMetrics())
    log.info("[STARTUP] webhook ingest ready")
