"""Both runtimes' start-up and shutdown, ordered so the port answers within a second.

1. bind the HTTP port with a minimal app (/health "starting"; webhook 503 until ready);
2. pick the runtime for the mode (``Application.runtime``); database: DATABASE_URL or the
   embedded server, migrations, then the ``Database`` resources (pool, lock); the webhook
   ingest goes live (it needs only the pool, not aiogram);
3. import aiogram in a thread (~3.5 s) while the loop keeps answering; open the
   ``BotContainer`` resources (HTTP client, Bot session) and start the runtime's services
   (inbox workers, job runner, lock supervisor: ACTIVE runs polling or setWebhook and the
   singleton jobs);
4. on SIGTERM: refuse new updates (503 / stop polling), drain workers, release the lock, close
   the containers' resources in reverse order, stop the embedded server if we started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import signal
import sys
from typing import Any

from adapters.http.app import Ingest, build_app
from adapters.http.health import HealthState
from adapters.http.metrics import INBOX_DEPTH
from entrypoints.http_server import HttpServer
from entrypoints.provided import provided
from entrypoints.settings import ConfigError, Settings

log = logging.getLogger(__name__)


class StartupError(Exception):
    """One line for the operator; the process exits non-zero without a traceback."""


async def _database(settings: Settings) -> tuple[str, Any]:
    """The database URL, and the embedded server if this process started one (the command's
    requirements already refused a webhook without DATABASE_URL)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value(), None
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


async def serve(settings: Settings) -> int:
    """Run the runtime ``settings.bot_mode`` names until SIGTERM (0) or a dead service (1)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    mode = settings.bot_mode
    health = HealthState(storage="postgres", kie_mode=settings.generation_mode)
    ingest = Ingest()
    app = build_app(health, ingest)
    http = HttpServer(app, settings.host, settings.port)
    embedded = application = bot = runtime = refresher = None
    try:
        await http.start()
        log.info("[STARTUP] %s: listening on %s:%d", mode, settings.host, settings.port)
        from entrypoints.application import Application

        application = Application(settings=settings, ingest=ingest)
        runtime = application.runtime()
        url, embedded = await _database(settings)
        application.database_url.override(url)

        from adapters.postgres.errors import DatabaseUnavailable
        from adapters.postgres.migrations import MigrationError, apply_migrations, schema_status

        database = application.database
        try:
            await apply_migrations(url)
            await provided(application.init_resources)  # the pool and the lock
            pool = await provided(database.pool)
            async with pool.connection() as conn:
                schema = await schema_status(conn)
        except (DatabaseUnavailable, MigrationError) as exc:
            raise StartupError(str(exc)) from None
        health.migrations_applied, health.migrations_count = schema.up_to_date, schema.applied
        if not schema.up_to_date:
            raise StartupError(f"schema behind the package: missing {', '.join(schema.missing)}")
        await runtime.open(database, application.metrics())  # webhook mode: ingest is live

        # The heavy part: aiogram, the container, the handlers.
        containers = await asyncio.to_thread(importlib.import_module, "entrypoints.containers")
        bot = containers.BotContainer(
            settings=settings, database=database, metrics=application.metrics
        )
        await provided(bot.init_resources)  # the HTTP client, the Bot session
        # A bad catalog or KIE mode stops us here, before any service starts.
        await provided(bot.adapters.catalog)
        await provided(bot.adapters.generation)
        for route in await runtime.start(bot):
            app.register(route)
        refresher = asyncio.create_task(
            _refresh_health(health, await provided(database.inbox), runtime)
        )
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
        ingest.draining = True  # 503: Telegram keeps the update and retries
        if refresher is not None:
            refresher.cancel()
        if runtime is not None:
            await runtime.stop(settings.shutdown_grace_seconds)
        # What the containers opened, in reverse order: Bot session and HTTP client, then the
        # lock and the pool.
        if bot is not None:
            await provided(bot.shutdown_resources)
        if application is not None:
            await provided(application.shutdown_resources)
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
