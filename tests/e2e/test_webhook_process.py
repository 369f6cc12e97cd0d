"""The real ``kiebot webhook`` process on PostgreSQL, with a fake Bot API over HTTP."""

from __future__ import annotations

import json

import pytest

from tests.fakes.bot_api_server import FakeBotApiServer
from tests.fakes.processes import Kiebot, http
from tests.fakes.updates import message
from tests.fakes.waiting import wait_for
from tests.pg import migrated_template, pg_cluster, pg_url

__all__ = ["migrated_template", "pg_cluster", "pg_url"]

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PATH_SECRET, TOKEN_SECRET = "e2e-path-s3cret-value", "e2e-token-s3cret-value"


def test_start_posted_to_the_webhook_gets_an_answer(pg_url: str) -> None:
    with FakeBotApiServer().running() as api:
        bot = Kiebot(
            "webhook",
            DATABASE_URL=pg_url,
            TELEGRAM_API_BASE=api.base,
            WEBHOOK_BASE_URL="https://bot.example",
            WEBHOOK_PATH_SECRET=PATH_SECRET,
            WEBHOOK_SECRET_TOKEN=TOKEN_SECRET,
            LOCK_HEARTBEAT_INTERVAL=1,
            LOCK_STALE_IDLE_SECONDS=5,
            LOCK_RETRY_INTERVAL=0.5,
        )
        try:
            health = bot.wait_healthy()
            assert health["migrations_applied"] is True
            wait_for(lambda: bool(api.called("setWebhook")), 15, "setWebhook")
            [hook] = api.called("setWebhook")
            assert hook["url"] == f"https://bot.example/webhook/{PATH_SECRET}"
            assert hook["secret_token"] == TOKEN_SECRET
            assert {"message", "callback_query"} <= set(json.loads(hook["allowed_updates"]))
            assert hook.get("drop_pending_updates") in (None, "false", "False")

            url = f"{bot.base}/webhook/{PATH_SECRET}"
            update = json.dumps(message(777, "/start")).encode()
            headers = {"Content-Type": "application/json"}
            assert http("POST", url, update, headers)[0] == 401
            headers["X-Telegram-Bot-Api-Secret-Token"] = TOKEN_SECRET
            assert http("POST", url, update, headers)[0] == 200
            wait_for(lambda: bool(api.called("sendMessage")), 15, "sendMessage")
            assert api.called("sendMessage")[0]["chat_id"] == "777"

            # The Kie.ai callback route is mounted and refuses an unknown job or token.
            callback = json.dumps({"code": 200, "data": {"taskId": "t1", "state": "success"}})
            forged = f"{bot.base}/kie/callback/no-such-job/guessed-token"
            assert http("POST", forged, callback.encode(), headers)[0] == 403
            assert TOKEN_SECRET not in bot.output()
        finally:
            code = bot.stop()
        assert code == 0, bot.output()
        assert "[SHUTDOWN] stopped" in bot.output()
