"""One bot as users and operators meet it: the real ``kiebot`` process on PostgreSQL, talking
HTTP over loopback to a fake Bot API and a fake Kie.ai that send what the real services send.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

from tests.fakes.bot_api_server import FakeBotApiServer
from tests.fakes.kie_server import FakeKieServer
from tests.fakes.processes import Kiebot, free_port
from tests.fakes.tg_user import BotMessage, TgUser
from tests.fakes.waiting import wait_for

WELCOME = 10_000  # 100.00 RUB in kopecks

FAST = {
    "LOCK_HEARTBEAT_INTERVAL": 1,
    "LOCK_STALE_IDLE_SECONDS": 5,
    "LOCK_RETRY_INTERVAL": 0.5,
    "RECONCILE_INTERVAL_SECONDS": 0.5,
    "WELCOME_BALANCE": WELCOME,
}


class Stack:
    """``mode`` is ``polling`` or ``webhook``. Kie.ai callbacks reach the bot when
    ``callbacks`` is true (always in webhook mode); otherwise the reconciler polls."""

    def __init__(
        self, mode: str, database_url: str, *, callbacks: bool | None = None, **env: Any
    ) -> None:
        self.mode = mode
        self.database_url = database_url
        self.api = FakeBotApiServer().start()
        self.kie = FakeKieServer().start()
        self.env = {
            "DATABASE_URL": database_url,
            "TELEGRAM_API_BASE": self.api.base,
            **self.kie.env(),
            **FAST,
            **env,
        }
        self.callbacks = mode == "webhook" if callbacks is None else callbacks
        self.bot: Kiebot | None = None

    def start(self) -> Stack:
        port = free_port()
        env = dict(self.env)
        if self.callbacks:
            env.setdefault("WEBHOOK_BASE_URL", f"http://127.0.0.1:{port}")
        self.bot = Kiebot(self.mode, port=port, **env)
        self.bot.wait_healthy("ok", 40)
        wait_for(lambda: self.health().get("lock_state") == "ACTIVE", 20, "ACTIVE")
        if self.mode == "webhook":
            wait_for(lambda: bool(self.api.webhook_info().get("url")), 20, "setWebhook")
        return self

    def restart(self) -> None:
        self.stop_bot()
        self.start()

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.bot is not None
        self.bot.proc.kill()
        self.bot.proc.wait(10)

    def stop_bot(self) -> int | None:
        if self.bot is None:
            return None
        bot, self.bot = self.bot, None
        return bot.stop()

    def close(self) -> None:
        with contextlib.suppress(AssertionError):
            self.stop_bot()
        self.api.stop()
        self.kie.stop()

    def bot_workers(self) -> int:
        """Inbox workers per process: at most this many handlers are in flight at a kill."""
        return int(self.env.get("INBOX_WORKERS", 4))

    def health(self) -> dict[str, Any]:
        assert self.bot is not None
        return self.bot.health() or {}

    def output(self) -> str:
        return self.bot.output() if self.bot is not None else ""

    def user(self, user_id: int, lang: str = "en") -> TgUser:
        return self.api.user(user_id, "Ann" if lang == "en" else "Аня", lang)

    # ---------------------------------------------------------------- the database, directly

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as conn:
            return list(conn.execute(sql, params).fetchall())

    def balance(self, user_id: int) -> tuple[int, int]:
        """(posted, held) as the ledger sums them."""
        [(total, held)] = self.query(
            "SELECT coalesce(sum(amount), 0), coalesce(sum(held), 0) FROM ledger_entries "
            "WHERE user_id = %s",
            user_id,
        )
        return int(total), int(held)

    def ledger_kinds(self, user_id: int) -> list[str]:
        return [
            r[0]
            for r in self.query(
                "SELECT kind FROM ledger_entries WHERE user_id = %s ORDER BY seq", user_id
            )
        ]

    def jobs(self, user_id: int) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, row_factory=psycopg.rows.dict_row) as conn:
            return list(
                conn.execute(
                    "SELECT * FROM jobs WHERE user_id = %s ORDER BY seq", (user_id,)
                ).fetchall()
            )


def press_and_wait(
    user: TgUser, data: str, timeout: float = 2.0, *, message_id: int | None = None
) -> float:
    """Press a button; the bot must answer the callback query within ``timeout`` seconds."""
    update = user.press(data, message_id=message_id)
    answer = user.wait_for_answer(update, timeout=timeout + 5)
    assert answer.latency is not None
    assert answer.latency <= timeout, f"{data!r} answered after {answer.latency:.2f}s"
    return answer.latency


def newest(user: TgUser) -> BotMessage:
    message = user.last_message()
    assert message is not None, "the bot said nothing"
    return message


def is_option_step(message: BotMessage) -> bool:
    return any(d.startswith("o:") and d.split(":")[2] == "skip" for d in message.callback_data)


def is_confirmation(message: BotMessage) -> bool:
    return any(d.startswith("cf:") for d in message.callback_data)


def skip_to_confirmation(user: TgUser) -> BotMessage:
    """After the prompt: skip the option steps (defaults) and return the confirmation."""
    step = user.wait_for_message(lambda m: is_option_step(m) or is_confirmation(m))
    if is_option_step(step):
        [skip] = [d for d in step.callback_data if d.startswith("o:") and ":skip" in d]
        press_and_wait(user, skip, message_id=step.message_id)
        step = user.wait_for_message(is_confirmation)
    return step
