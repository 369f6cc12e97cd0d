"""``kiebot``: the one console command (polling, check-config, …)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.domain.errors import CatalogError
from entrypoints.settings import ConfigError, Settings, load_settings


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"[STARTUP] config error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _polling(settings: Settings) -> int:
    from entrypoints.logs import configure_logging
    from entrypoints.polling import run

    configure_logging(settings.log_level, [settings.telegram_bot_token.get_secret_value()])
    asyncio.run(run(settings))
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
    sub.add_parser("polling", help="run the bot with getUpdates (local development)")
    sub.add_parser("check-config", help="validate the environment and the catalog, then exit")
    args = parser.parse_args(argv)
    settings = _settings_or_exit()
    try:
        if args.command == "polling":
            return _polling(settings)
        return _check_config(settings)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"[STARTUP] config error: {problem}", file=sys.stderr)
        return 2
    except CatalogError as exc:
        print(f"[STARTUP] catalog error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
