"""``kiebot``: the one console command (webhook, polling, run, migrate, inbox, check-config).

Imports stay light until a subcommand needs more: ``webhook``/``polling`` bind the HTTP port
before aiogram is imported (predecessor lesson 14).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from entrypoints.settings import ConfigError, Settings, load_settings


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"[STARTUP] config error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _event_loop_runner():  # type: ignore[no-untyped-def]
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run
    return uvloop.run


def _serve(settings: Settings, mode: str) -> int:
    from entrypoints.logs import configure_logging
    from entrypoints.serve import serve

    secrets = [settings.telegram_bot_token.get_secret_value()]
    secrets += [s.get_secret_value() for s in (settings.database_url,) if s is not None]
    configure_logging(settings.log_level, secrets)
    return int(_event_loop_runner()(serve(settings, mode)))  # type: ignore[arg-type]


def _migrate(settings: Settings) -> int:
    from adapters.postgres.migrations import run_migrate

    url = settings.database_url.get_secret_value() if settings.database_url else None
    return run_migrate(url)


def _inbox(settings: Settings, limit: int) -> int:
    from adapters.postgres.embedded import database_url_or_embedded

    async def show(url: str) -> None:
        from adapters.postgres.inbox import PostgresInbox
        from adapters.postgres.pool import open_pool

        pool = await open_pool(url, max_size=2)
        try:
            inbox = PostgresInbox(pool)
            print(f"pending: {await inbox.depth()}")
            for p in await inbox.parked(limit):
                print(
                    f"parked update_id={p.update_id} chat={p.chat_key} attempts={p.attempts} "
                    f"at={p.parked_at:%Y-%m-%d %H:%M:%S} error={p.last_error}"
                )
        finally:
            await pool.close()

    configured = settings.database_url.get_secret_value() if settings.database_url else None
    url, server = database_url_or_embedded(configured)
    try:
        asyncio.run(show(url))
    finally:
        if server is not None:
            server.stop()
    return 0


def _check_config(settings: Settings) -> int:
    from entrypoints.containers import make_catalog

    catalog = make_catalog(settings)
    print(
        f"config ok: kie_mode={settings.generation_mode} models={len(catalog.models)} "
        f"admins={len(settings.admins)}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiebot", description="KIE Bot")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("webhook", help="serve Telegram's webhook (production)")
    sub.add_parser("polling", help="run the bot with getUpdates (local development)")
    sub.add_parser("run", help="webhook or polling, as BOT_MODE says")
    sub.add_parser("migrate", help="apply pending database migrations, then exit")
    inbox = sub.add_parser("inbox", help="show the update inbox: pending count, parked updates")
    inbox.add_argument("--parked", type=int, default=20, metavar="N", help="list N parked")
    sub.add_parser("check-config", help="validate the environment and the catalog, then exit")
    args = parser.parse_args(argv)
    settings = _settings_or_exit()
    try:
        if args.command in ("webhook", "polling"):
            return _serve(settings, args.command)
        if args.command == "run":
            return _serve(settings, settings.bot_mode)
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "inbox":
            return _inbox(settings, args.parked)
        return _check_config(settings)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"[STARTUP] config error: {problem}", file=sys.stderr)
        return 2
    except Exception as exc:
        from core.domain.errors import CatalogError

        if isinstance(exc, CatalogError):
            print(f"[STARTUP] catalog error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
