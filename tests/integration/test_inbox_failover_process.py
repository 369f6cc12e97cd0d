"""kill -9 of a ``kiebot polling`` process with handlers in flight: nobody waits for a lease.

Real processes on one database and one fake Bot API. sendMessage is slowed so that, at the
kill, several updates are claimed by the dying process and not yet processed. The lease is
set to five minutes on purpose: the updates must come back because their claimer's liveness
lock went with its connection, not because a lease ran out.

Counting answers: the fake records a sendMessage when the request arrives, so a handler killed
while waiting for Telegram's reply has answered its user already and answers again after the
failover. Users whose update was claimed by the killed process at the kill are therefore
answered at least once (at most twice, reported); every other user exactly once.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from tests.fakes.bot_api_server import FakeBotApiServer
from tests.fakes.processes import Kiebot
from tests.fakes.updates import message
from tests.fakes.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USERS = 40
TARGET = 10.0  # seconds from the surviving or restarted instance being up to the last answer
FAST_LOCK = {
    "LOCK_HEARTBEAT_INTERVAL": 1,
    "LOCK_STALE_IDLE_SECONDS": 5,
    "LOCK_RETRY_INTERVAL": 0.5,
}


def inbox(url: str) -> list[tuple[int, int | None, int | None, bool]]:
    """(update_id, chat, claimed_by, processed) for every stored update."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT update_id, chat_key, claimed_by, processed_at IS NOT NULL"
            " FROM update_inbox ORDER BY update_id"
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def claimed_unprocessed(url: str, key: int | None = None) -> set[int]:
    """Chats whose update is claimed (by ``key`` if given) and not processed."""
    return {
        chat
        for _, chat, claimed_by, done in inbox(url)
        if claimed_by is not None
        and not done
        and (key is None or claimed_by == key)
        and chat is not None
    }


class Answers:
    """sendMessage per chat, and when (by this clock) each chat first got one."""

    def __init__(self, api: FakeBotApiServer, chats: list[int]) -> None:
        self.api, self.chats = api, chats
        self.first_at: dict[int, float] = {}

    def counts(self) -> Counter[int]:
        return Counter(int(p["chat_id"]) for p in self.api.called("sendMessage"))

    def poll(self) -> bool:
        """Stamp newly answered chats; True once every chat has an answer."""
        now = time.monotonic()
        for chat in self.counts():
            self.first_at.setdefault(chat, now)
        return all(chat in self.first_at for chat in self.chats)


@contextmanager
def bots() -> Iterator[list[Kiebot]]:
    started: list[Kiebot] = []
    try:
        yield started
    finally:
        for bot in started:
            if bot.proc.poll() is None:
                bot.stop()


def burst(api: FakeBotApiServer, first_user: int) -> list[int]:
    chats = list(range(first_user, first_user + USERS))
    for chat in chats:
        api.updates.append(message(chat, "/start"))
    return chats


def kill_with_claims_in_flight(url: str, bot: Kiebot, key: int | None = None) -> set[int]:
    """SIGKILL ``bot`` once it has processed some updates and holds others unprocessed;
    returns the chats it held at that moment."""

    def busy() -> bool:
        rows = inbox(url)
        processed = sum(1 for *_, done in rows if done)
        return len(rows) == USERS and processed >= 4 and bool(claimed_unprocessed(url, key))

    wait_for(busy, 30, "handlers in flight")
    os.kill(bot.proc.pid, signal.SIGKILL)
    bot.proc.wait(10)
    # Dead now: the rows keep the claims it had, and nothing moves them until someone claims.
    return claimed_unprocessed(url, key)


def check_answers(
    url: str, answers: Answers, in_flight: set[int], since: float, label: str
) -> None:
    """Every user answered, and every update processed, within TARGET of ``since``."""
    wait_for(answers.poll, 60, "every user answered")  # measured below against TARGET
    last = max(answers.first_at.values()) - since
    wait_for(lambda: all(done for *_, done in inbox(url)), 60, "inbox drained")
    drained = time.monotonic() - since
    counts = answers.counts()
    twice = sorted(chat for chat, n in counts.items() if n > 1)
    print(
        f"\n[failover] {USERS} users, {len(in_flight)} claimed by the killed process; "
        f"last first answer {last:.2f}s and inbox drained {drained:.2f}s after {label}; "
        f"answered twice: {twice or 'none'}"
    )
    assert last <= TARGET, f"last user answered {last:.2f}s after {label}"
    assert drained <= TARGET, f"inbox drained {drained:.2f}s after {label}"
    assert set(counts) == set(answers.chats), "someone answered who never wrote"
    assert set(twice) <= in_flight, f"answered twice though not in flight at the kill: {twice}"
    assert all(counts[chat] <= 2 for chat in answers.chats), counts


def env_for(url: str, api: FakeBotApiServer, **extra: Any) -> dict[str, Any]:
    return {
        "DATABASE_URL": url,
        "TELEGRAM_API_BASE": api.base,
        "INBOX_LEASE_SECONDS": 300,
        **FAST_LOCK,
        **extra,
    }


def test_killed_process_updates_are_answered_right_after_restart(pg_url: str) -> None:
    with FakeBotApiServer().running() as api, bots() as started:
        api.delays["sendMessage"] = 1.0
        answers = Answers(api, burst(api, 7000))
        env = env_for(pg_url, api)
        first = Kiebot("polling", **env)
        started.append(first)
        in_flight = kill_with_claims_in_flight(pg_url, first)
        assert in_flight, "nothing was in flight at the kill"
        answers.poll()
        api.delays["sendMessage"] = 0.2  # still slow enough for handlers to overlap

        second = Kiebot("polling", **env)
        started.append(second)
        second.wait_healthy("ok", 60)
        ready = time.monotonic()
        check_answers(pg_url, answers, in_flight, ready, "the restarted instance was up")
        assert second.stop() == 0, second.output()


def test_surviving_process_takes_over_the_killed_ones_updates(pg_url: str) -> None:
    with FakeBotApiServer().running() as api, bots() as started:
        env = env_for(pg_url, api)
        doomed = Kiebot("polling", **env)
        started.append(doomed)
        doomed.wait_healthy("ok", 60)
        survivor = Kiebot("polling", **env)
        started.append(survivor)
        survivor.wait_healthy("ok", 60)
        api.delays["sendMessage"] = 1.0
        answers = Answers(api, burst(api, 8000))  # both claim; the doomed one also polls
        in_flight = kill_with_claims_in_flight(pg_url, doomed, claimer_key(doomed))
        killed = time.monotonic()
        assert in_flight, "the killed process held nothing"
        answers.poll()
        api.delays["sendMessage"] = 0.2
        check_answers(pg_url, answers, in_flight, killed, "the kill, survivor up")
        assert survivor.stop() == 0, survivor.output()


def claimer_key(bot: Kiebot) -> int:
    """The inbox claimer key the process logged when its workers started."""
    found = re.findall(r"claiming as claimer key=(\d+)", bot.output())
    assert len(found) == 1, bot.output()
    return int(found[0])
