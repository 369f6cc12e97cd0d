"""``kiebot``: each command is refused with one config line per missing piece, before it
starts anything, and otherwise gets only what it needs (migrate and inbox: DATABASE_URL)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from entrypoints import cli
from entrypoints.settings import Settings
from tests.pg import empty_pg_url, pg_cluster

__all__ = ["empty_pg_url", "pg_cluster"]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "4242:TOKEN-s3cret-value"
KIE_KEY = "KIE-s3cret-value"
WEBHOOK_READY = {
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "KIE_API_KEY": KIE_KEY,
    "DATABASE_URL": "postgresql://kie@127.0.0.1:1/kie",
    "WEBHOOK_BASE_URL": "https://bot.example",
}
CONFIG_LINE = "[STARTUP] config error: "


# --- in process: what main() dispatches, and what it refuses --------------------------------


class Started:
    """Stands in for the heavy commands: records what would have run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, Any]] = []
        monkeypatch.setattr(cli, "_serve", lambda s: self._record("serve", s.bot_mode))
        monkeypatch.setattr(cli, "_migrate", lambda s: self._record("migrate", s.database_url))
        monkeypatch.setattr(cli, "_inbox", lambda _s, limit: self._record("inbox", limit))

    def _record(self, what: str, arg: Any) -> int:
        self.calls.append((what, arg))
        return 0


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Started:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    return Started(monkeypatch)


def config_lines(err: str) -> list[str]:
    return [line.removeprefix(CONFIG_LINE) for line in err.splitlines() if CONFIG_LINE in line]


def env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_migrate_and_inbox_run_with_only_a_database_url(
    started: Started, monkeypatch: pytest.MonkeyPatch
) -> None:
    env(monkeypatch, DATABASE_URL="postgresql://kie@db/kie")
    assert cli.main(["migrate"]) == 0
    assert cli.main(["inbox", "--parked", "3"]) == 0
    [migrate, inbox] = started.calls
    assert migrate[0] == "migrate"
    assert migrate[1].get_secret_value() == "postgresql://kie@db/kie"
    assert inbox == ("inbox", 3)


def test_webhook_names_every_missing_piece_and_starts_nothing(
    started: Started, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["webhook"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert [p.split(":")[0] for p in config_lines(err)] == [
        "TELEGRAM_BOT_TOKEN",
        "KIE_API_KEY",
        "DATABASE_URL",
        "WEBHOOK_BASE_URL",
    ]
    assert started.calls == []


def test_run_is_checked_as_the_mode_bot_mode_names(
    started: Started, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env(monkeypatch, **{**WEBHOOK_READY, "KIE_API_KEY": ""}, BOT_MODE="webhook")
    assert cli.main(["run"]) == 2
    [line] = config_lines(capsys.readouterr().err)
    assert line.startswith("KIE_API_KEY: ")
    assert "KIE_MODE=stub" in line
    env(monkeypatch, KIE_MODE="stub")
    assert cli.main(["run"]) == 0
    assert started.calls == [("serve", "webhook")]


def test_polling_needs_only_the_token(
    started: Started, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env(monkeypatch, TELEGRAM_BOT_TOKEN=TOKEN)
    assert cli.main(["polling"]) == 0
    assert started.calls == [("serve", "polling")]
    assert capsys.readouterr().err == ""


def test_check_config_checks_the_mode_it_is_asked_about(
    started: Started, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env(monkeypatch, TELEGRAM_BOT_TOKEN=TOKEN)  # enough for polling, the default BOT_MODE
    assert cli.main(["check-config"]) == 0
    [summary] = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"config ok: mode=polling kie_mode=stub models=\d+ admins=0", summary)

    assert cli.main(["check-config", "--mode", "webhook"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert [p.split(":")[0] for p in config_lines(err)] == [
        "KIE_API_KEY",
        "DATABASE_URL",
        "WEBHOOK_BASE_URL",
    ]

    env(monkeypatch, **WEBHOOK_READY)
    assert cli.main(["check-config", "--mode", "webhook"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("config ok: mode=webhook kie_mode=real models=")
    assert err == ""
    assert TOKEN not in out
    assert KIE_KEY not in out
    assert started.calls == []


def test_a_bad_value_stops_every_command_with_one_line(
    started: Started, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env(monkeypatch, DATABASE_URL="postgresql://db/kie", LOCK_STALE_IDLE_SECONDS="20")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["migrate"])
    assert stopped.value.code == 2
    [line] = config_lines(capsys.readouterr().err)
    assert line.startswith("LOCK_STALE_IDLE_SECONDS (20) must be greater than 2 x ")
    assert started.calls == []


# --- as real processes: exit code, one line, nothing touched ---------------------------------


def kiebot(*args: str, cwd: Path, **values: str) -> subprocess.CompletedProcess[str]:
    """``python -m entrypoints.cli`` with nothing from the runner's environment but PATH.

    Should a refusal ever regress into a start, the bot talks to a closed local port rather
    than Telegram, and the timeout (a refusal takes about a second) ends it.
    """
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cwd),
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_API_BASE": "http://127.0.0.1:9",
        "KIE_API_BASE": "http://127.0.0.1:9",
        "KIE_UPLOAD_BASE": "http://127.0.0.1:9",
    }
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        cwd=cwd,  # no .env here
        env={**clean, **values},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows.fetchall()}


@pytest.mark.integration
@pytest.mark.slow
def test_migrate_with_only_database_url_creates_the_schema(
    empty_pg_url: str, tmp_path: Path
) -> None:
    assert tables(empty_pg_url) == set()
    migrated = kiebot("migrate", cwd=tmp_path, DATABASE_URL=empty_pg_url)
    assert migrated.returncode == 0, migrated.stderr
    assert "Traceback" not in migrated.stderr
    assert CONFIG_LINE not in migrated.stderr
    found = re.search(r"Found (\d+) migration file\(s\)", migrated.stderr)
    assert found is not None, migrated.stderr
    expected = {"users", "ledger_entries", "jobs", "update_inbox", "fsm_state", "kie_callbacks"}
    assert expected | {"schema_migrations"} <= tables(empty_pg_url)

    inbox = kiebot("inbox", cwd=tmp_path, DATABASE_URL=empty_pg_url)
    assert inbox.returncode == 0, inbox.stderr
    assert inbox.stdout.splitlines()[0] == "pending: 0"


REFUSED = {
    "webhook-without-kie-key": (
        ["webhook"],
        {"KIE_API_KEY": ""},
        "KIE_API_KEY",
        "or set KIE_MODE=stub explicitly",
    ),
    "run-as-webhook-without-kie-key": (
        ["run"],
        {"KIE_API_KEY": "", "BOT_MODE": "webhook"},
        "KIE_API_KEY",
        "KIE_MODE=stub",
    ),
    "webhook-without-base-url": (
        ["webhook"],
        {"WEBHOOK_BASE_URL": "", "KIE_MODE": "stub"},
        "WEBHOOK_BASE_URL",
        "https://",
    ),
    "webhook-base-url-not-http": (
        ["webhook"],
        {"WEBHOOK_BASE_URL": "ftp://user:URL-s3cret@bot.example"},
        "WEBHOOK_BASE_URL",
        "http(s)",
    ),
    "unsafe-lock-timings": (
        ["webhook"],
        {"LOCK_HEARTBEAT_INTERVAL": "10", "LOCK_STALE_IDLE_SECONDS": "15"},
        "LOCK_STALE_IDLE_SECONDS",
        "2 x LOCK_HEARTBEAT_INTERVAL (10)",
    ),
    "polling-kie-mode-real-without-key": (
        ["polling"],
        {"KIE_API_KEY": "", "KIE_MODE": "real"},
        "KIE_API_KEY",
        "KIE_MODE=real",
    ),
}


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(("args", "change", "variable", "says"), REFUSED.values(), ids=REFUSED)
def test_a_refused_start_is_one_line_exit_2_and_leaves_the_database_alone(
    empty_pg_url: str,
    tmp_path: Path,
    args: list[str],
    change: dict[str, str],
    variable: str,
    says: str,
) -> None:
    values = {**WEBHOOK_READY, "DATABASE_URL": empty_pg_url, **change}
    result = kiebot(*args, cwd=tmp_path, **{k: v for k, v in values.items() if v})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    [line] = [x for x in output.splitlines() if x.startswith(CONFIG_LINE)]
    assert line.startswith(f"{CONFIG_LINE}{variable}")
    assert says in line
    assert not any(secret in output for secret in (TOKEN, KIE_KEY, "URL-s3cret"))
    assert tables(empty_pg_url) == set()  # not even schema_migrations: nothing was started
