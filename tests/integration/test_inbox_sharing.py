"""Two consumers (own pools, as two processes would have) drain one PostgreSQL inbox."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import psycopg
import pytest
from aiogram.fsm.storage.base import StorageKey

from adapters.memory.metrics import InMemoryMetrics
from adapters.postgres.bot_secrets import ensure_secret
from adapters.postgres.fsm import PostgresFsmStorage
from adapters.postgres.inbox import CLAIMER_CLASS, PostgresInbox
from adapters.postgres.pool import open_pool
from core.usecases.inbox_workers import InboxWorkers
from tests.contract.inbox_support import upd
from tests.fakes.waiting import until

pytestmark = pytest.mark.integration


async def test_two_consumers_handle_every_update_exactly_once(pg_url: str) -> None:
    pools = [await open_pool(pg_url, max_size=6) for _ in range(2)]
    handled: Counter[int] = Counter()
    by_consumer: Counter[int] = Counter()
    last_seen: dict[int, int] = {}

    def handler(consumer: int):  # type: ignore[no-untyped-def]
        async def handle(update: Mapping[str, Any]) -> None:
            chat, n = update["message"]["chat"]["id"], update["update_id"]
            assert last_seen.get(chat, -1) < n, "per-chat order broken"
            last_seen[chat] = n
            await asyncio.sleep(0)
            handled[n] += 1
            by_consumer[consumer] += 1

        return handle

    try:
        inboxes = [PostgresInbox(pool) for pool in pools]
        total = 400
        await asyncio.gather(
            *(inboxes[n % 2].store(n, upd(n, n % 13), n % 13) for n in range(total))
        )
        consumers = [
            InboxWorkers(inbox, handler(i), InMemoryMetrics(), workers=4, idle_poll=0.02)
            for i, inbox in enumerate(inboxes)
        ]
        for consumer in consumers:
            consumer.start()
        with contextlib.suppress(AssertionError):  # counted below, with a clearer message
            await until(lambda: len(handled) >= total, deadline=30)
        for consumer in consumers:
            await consumer.stop()
        assert len(handled) == total, "lost updates"
        assert set(handled.values()) == {1}, "an update was handled twice"
        assert min(by_consumer.values()) > 0, "one consumer did all the work"
        assert await inboxes[0].depth() == 0
    finally:
        for pool in pools:
            await pool.close()


async def terminate_liveness(url: str, inbox: PostgresInbox) -> None:
    """Close the inbox's liveness session from the server side, as a kill -9 would."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            """SELECT pg_terminate_backend(l.pid, 5000) FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND l.classid::bigint = %s AND l.objid::bigint = %s""",
            (CLAIMER_CLASS, inbox.claimer_key),
        )
        assert await cur.fetchall() == [(True,)]


async def test_updates_of_a_consumer_whose_liveness_dies_move_on_at_once(pg_url: str) -> None:
    pools = [await open_pool(pg_url, max_size=6) for _ in range(2)]
    chats, per_chat = 12, 5
    total = chats * per_chat
    hung: list[int] = []
    handled: list[int] = []
    order: defaultdict[int, list[int]] = defaultdict(list)

    async def hangs(update: Mapping[str, Any]) -> None:
        hung.append(update["update_id"])
        await asyncio.Event().wait()  # never returns: its process is about to die

    async def handles(update: Mapping[str, Any]) -> None:
        handled.append(update["update_id"])
        order[update["message"]["chat"]["id"]].append(update["update_id"])

    dying, survivor = (PostgresInbox(pool) for pool in pools)
    consumers = [
        InboxWorkers(
            dying, hangs, InMemoryMetrics(), workers=4, lease_seconds=300, idle_poll=0.02
        ),
        InboxWorkers(
            survivor, handles, InMemoryMetrics(), workers=4, lease_seconds=300, idle_poll=0.02
        ),
    ]
    try:
        for n in range(total):
            await dying.store(n, upd(n, n % chats), n % chats)
        consumers[0].start()
        await until(lambda: len(hung) == 4, what="four updates held by the dying consumer")
        held_chats = {n % chats for n in hung}
        consumers[1].start()
        # Everything but the held chats; those wait behind claims of a live consumer.
        await until(lambda: len(handled) == total - 4 * per_chat, what="the other chats done")
        assert not held_chats & {n % chats for n in handled}

        killed = time.monotonic()
        await terminate_liveness(pg_url, dying)
        await until(lambda: len(handled) == total, deadline=10, what="held chats taken over")
        took = time.monotonic() - killed
        assert took < 5, f"took {took:.1f}s with a 300 s lease"
        assert sorted(handled) == list(range(total)), "lost or doubled updates"
        assert set(hung) <= set(handled)  # the held ones were run again, to the end
        for chat, seen in order.items():
            assert seen == sorted(seen), f"chat {chat} out of order"
    finally:
        for consumer in consumers:
            await consumer.stop(grace=0.1)
        for pool in pools:
            await pool.close()


async def test_fsm_state_is_shared_between_pools(pg_url: str) -> None:
    pools = [await open_pool(pg_url, max_size=2) for _ in range(2)]
    try:
        one, two = (PostgresFsmStorage(pool) for pool in pools)
        key = StorageKey(bot_id=1, chat_id=5, user_id=5)
        await one.set_state(key, "Wizard:prompt")
        await one.set_data(key, {"model_id": "m1"})
        assert await two.get_state(key) == "Wizard:prompt"
        assert await two.update_data(key, {"draft": "d1"}) == {"model_id": "m1", "draft": "d1"}
        await two.set_state(key, None)
        assert await one.get_state(key) is None
        assert await one.get_data(StorageKey(bot_id=1, chat_id=6, user_id=6)) == {}
    finally:
        for pool in pools:
            await pool.close()


async def test_generated_secret_is_persisted_once(pg_url: str) -> None:
    pool = await open_pool(pg_url, max_size=4)
    try:
        values = await asyncio.gather(*(ensure_secret(pool, "webhook_path") for _ in range(5)))
        assert len(set(values)) == 1
        assert len(values[0]) >= 40
        assert await ensure_secret(pool, "webhook_token") != values[0]
    finally:
        await pool.close()
