"""``kiebot``: the one console command (webhook, polling, run, migrate, inbox, check-config).

Imports stay light until a subcommand needs more: the configuration is checked against what
the command needs before any connection is opened, and ``webhook``/``polling`` bind the HTTP
port before aiogram is imported, so a health check gets an answer within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable

from entrypoints.settings import ConfigError, Settings, load_settings, require_for


def _config_errors(problems: Iterable[str]) -> int:
    for problem in problems:
        print(f"[STARTUP] config error: {problem}", file=sys.stderr)
    return 2


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise SystemExit(_config_errors(exc.problems)) from None


def _event_loop_runner():  # type: ignore[no-untyped-def]
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run
    return uvloop.run


def _serve(settings: Settings) -> int:
    from entrypoints.logs import configure_logging
    from entrypoints.serve import serve

    known = (
        settings.telegram_bot_token,
        settings.database_url,
        settings.kie_api_key,
        settings.kie_webhook_hmac_key,
        settings.webhook_path_secret,
        settings.webhook_secret_token,
    )
    configure_logging(settings.log_level, [s.get_secret_value() for s in known if s is not None])
    return int(_event_loop_runner()(serve(settings)))


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


def _check_config(settings: Settings, mode: str) -> int:
    # The loader alone (not the containers): checking a catalog needs no aiogram.
    from adapters.catalog.loader import DEFAULT_DIR, load_catalog

    catalog = load_catalog(settings.catalog_dir or DEFAULT_DIR, frozenset(settings.hidden_models))
    print(
        f"config ok: mode={mode} kie_mode={settings.generation_mode} "
        f"models={len(catalog.models)} admins={len(settings.admins)}"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiebot", description="KIE Bot")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("webhook", help="serve Telegram's webhook (production)")
    sub.add_parser("polling", help="run the bot with getUpdates (local development)")
    sub.add_parser("run", help="webhook or polling, as BOT_MODE says")
    sub.add_parser("migrate", help="apply pending database migrations, then exit")
    inbox = sub.add_parser("inbox", help="show the update inbox: pending count, parked updates")
    inbox.add_argument("--parked", type=int, default=20, metavar="N", help="list N parked")
    check = sub.add_parser(
        "check-config", help="validate the environment for a mode and the catalog, then exit"
    )
    check.add_argument(
        "--mode",
        choices=("webhook", "polling"),
        default=None,
        help="the mode to check the environment for (default: BOT_MODE)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _settings_or_exit()
    command = settings.bot_mode if args.command == "run" else args.command
    needs = (args.mode or settings.bot_mode) if command == "check-config" else command
    problems = require_for(settings, needs)
    if problems:
        return _config_errors(problems)
    try:
        if command in ("webhook", "polling"):
            # The command names the runtime; BOT_MODE only says what ``run`` starts.
            return _serve(settings.model_copy(update={"bot_mode": command}))
        if command == "migrate":
            return _migrate(settings)
        if command == "inbox":
            return _inbox(settings, args.parked)
        return _check_config(settings, needs)
    except ConfigError as exc:
        return _config_errors(exc.problems)
    except Exception as exc:
        from core.domain.errors import CatalogError

        if isinstance(exc, CatalogError):
            print(f"[STARTUP] catalog error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
