"""Configuration errors are one clear line per variable, and change nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.ports.lock import LockTimings
from entrypoints.settings import ConfigError, Settings, load_settings, require_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "4242:TOKEN-s3cret-value"
WEBHOOK_READY = {
    "telegram_bot_token": TOKEN,
    "kie_api_key": "KIE-s3cret-value",
    "database_url": "postgresql://kie:DB-s3cret@db/kie",
    "webhook_base_url": "https://bot.example",
}


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the runner's environment holds must not decide these tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def settings(**values: object) -> Settings:
    return load_settings(_env_file=None, **values)


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "KIE_"))}
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        cwd=ROOT / "tests",  # no .env here
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_token_exits_at_once_with_one_line_saying_what_to_set() -> None:
    result = run_cli("polling")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "[STARTUP] config error: TELEGRAM_BOT_TOKEN: set TELEGRAM_BOT_TOKEN to the token "
        "@BotFather gave you"
    ]


def test_malformed_values_name_each_variable_and_never_print_secrets() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            _env_file=None,
            telegram_bot_token="123:SECRET-VALUE",
            kie_mode="sometimes",
            fx_rate="-3",
            port="99999",
        )
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["KIE_MODE", "FX_RATE", "PORT"]
    assert all("SECRET-VALUE" not in p for p in problems)


def test_admin_ids_and_hidden_models_are_comma_separated() -> None:
    settings = load_settings(
        _env_file=None,
        telegram_bot_token="1:x",
        admin_ids="1, 2,3",
        admin_id="9",
        hidden_models="z-image, nano-banana",
    )
    assert settings.admins == frozenset({1, 2, 3, 9})
    assert settings.hidden_models == ("z-image", "nano-banana")


def test_generation_mode_is_stub_without_a_key_and_real_with_one() -> None:
    assert load_settings(_env_file=None, telegram_bot_token="1:x").generation_mode == "stub"
    keyed = load_settings(_env_file=None, telegram_bot_token="1:x", kie_api_key="k")
    assert keyed.generation_mode == "real"


def test_broken_catalog_stops_check_config_naming_model_and_field(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(
        '[[models]]\nid = "m1"\nkie_model = "x"\ntitle = "M"\ncategory = "image"\n'
        'output = "image"\n[[models.skus]]\nid = "s"\ncredits = "lots"\n'
    )
    result = run_cli("check-config", TELEGRAM_BOT_TOKEN="1:x", CATALOG_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "catalog model 'm1', field 'skus.s.credits': 'lots' is not a number" in result.stderr


def test_telegram_file_limits_follow_the_bot_api_server() -> None:
    base = {"telegram_bot_token": "1:x", "_env_file": None}
    public = load_settings(**base)
    assert public.telegram_upload_limit_bytes == 50 * 1024 * 1024
    assert public.telegram_download_limit_bytes == 20 * 1024 * 1024
    local = load_settings(**base, telegram_api_base="http://bot-api:8081")
    assert local.telegram_upload_limit_bytes == 2000 * 1024 * 1024
    assert local.telegram_download_limit_bytes == 2000 * 1024 * 1024
    assert load_settings(**base, telegram_upload_limit_mb=5).telegram_upload_limit_bytes == 5 << 20


def test_only_the_bot_commands_need_the_token() -> None:
    bare = settings(database_url="postgresql://db/kie")
    assert bare.telegram_bot_token is None
    assert require_for(bare, "migrate") == []
    assert require_for(bare, "inbox") == []
    hint = "TELEGRAM_BOT_TOKEN: set TELEGRAM_BOT_TOKEN to the token @BotFather gave you"
    assert require_for(bare, "polling") == [hint]
    assert hint in require_for(bare, "webhook")
    assert require_for(bare, "run") == [hint]  # BOT_MODE defaults to polling


def test_a_complete_webhook_configuration_needs_nothing_more() -> None:
    ready = settings(**WEBHOOK_READY)
    assert require_for(ready, "webhook") == []
    assert require_for(ready, "polling") == []
    assert ready.generation_mode == "real"


def test_webhook_without_a_kie_key_refuses_instead_of_running_the_stub() -> None:
    keyless = {**WEBHOOK_READY, "kie_api_key": None}
    problems = require_for(settings(**keyless), "webhook")
    [line] = problems
    assert line.startswith("KIE_API_KEY: ")
    assert "or set KIE_MODE=stub explicitly" in line
    assert require_for(settings(**keyless, bot_mode="webhook"), "run") == problems
    assert require_for(settings(**keyless, kie_mode="stub"), "webhook") == []


def test_polling_without_a_key_still_runs_the_stub() -> None:
    local = settings(telegram_bot_token=TOKEN)
    assert local.generation_mode == "stub"
    assert require_for(local, "polling") == []


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_kie_mode_real_without_a_key_is_refused_in_every_mode(mode: str) -> None:
    real = settings(**{**WEBHOOK_READY, "kie_api_key": None, "kie_mode": "real"})
    assert require_for(real, mode) == ["KIE_API_KEY: required when KIE_MODE=real"]


def test_webhook_needs_a_base_url_and_a_database() -> None:
    problems = require_for(settings(telegram_bot_token=TOKEN, kie_mode="stub"), "webhook")
    assert [p.split(":")[0] for p in problems] == ["DATABASE_URL", "WEBHOOK_BASE_URL"]
    assert "https://" in problems[1]
    # Polling uses the base URL only for Kie.ai callbacks and does without it.
    assert require_for(settings(telegram_bot_token=TOKEN), "polling") == []


@pytest.mark.parametrize(
    "url",
    [
        "bot.example",
        "ftp://bot.example",
        "https://",
        "https://bot.example:99999",
        "https://bot.example/?a=1",
        "https://bot.example/#top",
    ],
)
def test_a_base_url_that_is_not_http_is_one_line_without_the_value(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(webhook_base_url=url)
    [line] = caught.value.problems
    assert line.startswith("WEBHOOK_BASE_URL: ")
    assert "bot.example" not in line


def test_a_base_url_carrying_credentials_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        settings(webhook_base_url="ftp://user:URL-s3cret@bot.example")
    assert "URL-s3cret" not in str(caught.value)


@pytest.mark.parametrize("url", ["https://bot.example", "http://127.0.0.1:8443/base/"])
def test_http_and_https_base_urls_are_accepted(url: str) -> None:
    assert settings(webhook_base_url=url).webhook_base_url == url


def test_unsafe_lock_timings_are_one_config_line_at_load_time() -> None:
    with pytest.raises(ConfigError) as caught:
        settings(lock_stale_idle_seconds=20, lock_heartbeat_interval=15)
    [line] = caught.value.problems
    assert line.startswith("LOCK_STALE_IDLE_SECONDS (20) must be greater than 2 x ")
    assert "LOCK_HEARTBEAT_INTERVAL (15)" in line


def test_a_non_positive_lock_interval_is_reported_once() -> None:
    with pytest.raises(ConfigError) as caught:
        settings(lock_heartbeat_interval=0)
    assert [p.split(":")[0] for p in caught.value.problems] == ["LOCK_HEARTBEAT_INTERVAL"]


def test_the_lock_timings_are_built_from_the_settings() -> None:
    timings = settings(
        lock_heartbeat_interval=1, lock_stale_idle_seconds=5, lock_retry_interval=0.5
    ).lock_timings
    assert timings == LockTimings(heartbeat_interval=1, stale_idle_seconds=5, retry_interval=0.5)


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty key must not select the real client, nor an empty token pass as a token.
    monkeypatch.setenv("KIE_API_KEY", "")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    monkeypatch.setenv("WEBHOOK_BASE_URL", "")
    loaded = settings()
    assert loaded.kie_api_key is None
    assert loaded.generation_mode == "stub"
    assert loaded.webhook_base_url is None
    assert require_for(loaded, "polling")[0].startswith("TELEGRAM_BOT_TOKEN: ")


def test_requirement_lines_never_carry_secret_values() -> None:
    problems = require_for(
        settings(
            telegram_bot_token=TOKEN,
            kie_mode="real",
            webhook_path_secret="PATH-s3cret-value",
            webhook_secret_token="HDR-s3cret-value",
        ),
        "webhook",
    )
    assert len(problems) == 3
    assert not any("s3cret" in p for p in problems)
