"""Configuration errors are one clear line per variable, and change nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from entrypoints.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


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
