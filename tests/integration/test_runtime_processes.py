"""``kiebot polling`` / ``webhook`` as real processes: start-up order, crash safety, bad config."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.fakes.bot_api_server import FakeBotApiServer
from tests.fakes.processes import Kiebot, http
from tests.fakes.updates import message
from tests.fakes.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAST_LOCK = {
    "LOCK_HEARTBEAT_INTERVAL": 1,
    "LOCK_STALE_IDLE_SECONDS": 5,
    "LOCK_RETRY_INTERVAL": 0.5,
}


def stored(url: str) -> list[tuple[int, bool]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT update_id, processed_at IS NOT NULL FROM update_inbox ORDER BY update_id"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_polled_update_stored_then_killed_is_handled_after_restart(pg_url: str) -> None:
    with FakeBotApiServer().running() as api:
        start = message(901, "/start")
        api.updates.append(start)
        env = {"DATABASE_URL": pg_url, "TELEGRAM_API_BASE": api.base, **FAST_LOCK}
        first = Kiebot("polling", INBOX_WORKERS=0, **env)  # stores, handles nothing
        try:
            wait_for(lambda: stored(pg_url) == [(start["update_id"], False)], 30, "stored")
            first.proc.kill()  # between store and handle
            first.proc.wait(10)
        finally:
            first.stop()
        assert api.called("sendMessage") == []
        second = Kiebot("polling", **env)
        try:
            wait_for(lambda: bool(api.called("sendMessage")), 30, "handled after restart")
            wait_for(lambda: stored(pg_url) == [(start["update_id"], True)], 10, "processed")
            assert len(api.called("sendMessage")) == 1
            assert all(p.get("drop_pending_updates") is None for p in api.called("getUpdates"))
        finally:
            assert second.stop() == 0, second.output()


def test_health_answers_before_aiogram_is_loaded(pg_url: str) -> None:
    with FakeBotApiServer().running() as api:
        _health_before_aiogram(pg_url, api.base)


def _health_before_aiogram(pg_url: str, api_base: str) -> None:
    started = time.monotonic()
    bot = Kiebot(
        "webhook",
        DATABASE_URL=pg_url,
        WEBHOOK_SECRET_TOKEN="t" * 20,
        WEBHOOK_BASE_URL="https://bot.example",
        TELEGRAM_API_BASE=api_base,
        **FAST_LOCK,
    )
    try:
        wait_for(lambda: bot.health() is not None, 10, "first /health 200")
        first_answer = time.monotonic() - started
        body = bot.wait_healthy("ok", 30)
        assert body["storage"] == "postgres"
        wait_for(lambda: (bot.health() or {}).get("lock_state") == "ACTIVE", 15, "ACTIVE")
        # The target is 1.5 s; 3 s leaves room for a loaded CI machine.
        assert first_answer < 3.0, f"/health took {first_answer:.2f}s"
        status, _ = http("POST", f"{bot.base}/webhook/guess", b"{}", {})
        assert status == 404
    finally:
        assert bot.stop() == 0, bot.output()


def test_unreachable_database_is_one_line_and_exit_1() -> None:
    bot = Kiebot(
        "webhook",
        DATABASE_URL="postgresql://kie:pw-s3cret@127.0.0.1:1/kie",
        WEBHOOK_BASE_URL="https://bot.example",
        TELEGRAM_API_BASE="http://127.0.0.1:9",
    )
    code = bot.proc.wait(30)
    out = bot.output()
    assert code == 1, out
    assert "Traceback" not in out
    assert "pw-s3cret" not in out
    [line] = [x for x in out.splitlines() if "[STARTUP] database error" in x]
    assert "127.0.0.1:1" in line
