"""InboxWorkers: retries with backoff, parking, per-chat order, exactly-once on success."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from adapters.memory.inbox import InMemoryInbox
from adapters.memory.metrics import InMemoryMetrics
from adapters.system import ManualClock
from core.usecases.inbox_workers import InboxWorkers
from entrypoints.containers import dispatch_to
from tests.conftest import BotHarness
from tests.contract.inbox_support import upd
from tests.fakes.updates import message
from tests.fakes.waiting import until


def workers(
    inbox: InMemoryInbox, handle: Any, metrics: InMemoryMetrics | None = None, **kw: Any
) -> InboxWorkers:
    options = {"workers": 4, "max_attempts": 3, "idle_poll": 0.01, "backoff_base": 0.01}
    return InboxWorkers(inbox, handle, metrics or InMemoryMetrics(), **{**options, **kw})


async def test_failing_twice_then_succeeding_is_processed_exactly_once() -> None:
    inbox, calls, done = InMemoryInbox(), Counter[int](), []

    async def flaky(update: Mapping[str, Any]) -> None:
        calls[update["update_id"]] += 1
        if calls[update["update_id"]] <= 2:
            raise RuntimeError("transient")
        done.append(update["update_id"])

    await inbox.store(1, upd(1), 1)
    metrics = InMemoryMetrics()
    pool = workers(inbox, flaky, metrics)
    pool.start()
    await until(lambda: inbox.rows[1].processed_at is not None)
    await pool.stop()
    assert calls[1] == 3
    assert (metrics.failed, metrics.processed, metrics.parked) == (2, 1, 0)
    assert done == [1]
    assert inbox.rows[1].attempts == 2
    assert inbox.rows[1].parked_at is None


async def test_always_failing_update_is_parked_after_max_attempts(caplog) -> None:
    inbox, calls = InMemoryInbox(), Counter[int]()

    async def broken(update: Mapping[str, Any]) -> None:
        calls[update["update_id"]] += 1
        raise ValueError("handler bug")

    await inbox.store(7, upd(7), 1)
    await inbox.store(8, upd(8), 1)
    metrics = InMemoryMetrics()
    pool = workers(inbox, broken, metrics, max_attempts=3)
    pool.start()
    await until(lambda: inbox.rows[8].parked_at is not None)
    await pool.stop()
    assert (metrics.failed, metrics.processed, metrics.parked) == (6, 0, 2)
    [first, _second] = sorted(await inbox.parked(), key=lambda p: p.update_id)
    assert (first.update_id, first.attempts) == (7, 3)
    assert "handler bug" in first.last_error
    assert calls == {7: 3, 8: 3}
    assert "parked update_id=7" in caplog.text


async def test_per_chat_order_is_kept_with_several_workers() -> None:
    inbox, seen = InMemoryInbox(), defaultdict[int, list[int]](list)
    in_flight: set[int] = set()

    async def slow(update: Mapping[str, Any]) -> None:
        chat = update["message"]["chat"]["id"]
        assert chat not in in_flight, "two updates of one chat in flight"
        in_flight.add(chat)
        await asyncio.sleep(0.001 * (update["update_id"] % 3))
        seen[chat].append(update["update_id"])
        in_flight.discard(chat)

    for n in range(1, 121):
        await inbox.store(n, upd(n, n % 5), n % 5)
    pool = workers(inbox, slow, workers=6)
    pool.start()
    await until(lambda: sum(map(len, seen.values())) == 120)
    await pool.stop()
    for chat, order in seen.items():
        assert order == sorted(order), f"chat {chat} out of order"


async def test_stored_malformed_update_is_parked_with_a_reason() -> None:
    harness, inbox = BotHarness(), InMemoryInbox()
    await inbox.store(5, {"update_id": 5, "message": {"text": "no chat, no date"}}, None)
    pool = workers(inbox, dispatch_to(harness.dispatcher, harness.bot))
    pool.start()
    await until(lambda: inbox.rows[5].parked_at is not None)
    await pool.stop()
    assert inbox.rows[5].attempts == 1
    assert inbox.rows[5].last_error.startswith("malformed update")


async def test_start_through_the_inbox_reaches_the_dispatcher_once() -> None:
    harness, inbox = BotHarness(), InMemoryInbox()
    start = message(501, "/start")
    await inbox.store(start["update_id"], start, 501)
    await inbox.store(start["update_id"], start, 501)  # Telegram redelivered it
    pool = workers(inbox, dispatch_to(harness.dispatcher, harness.bot))
    pool.start()
    await until(lambda: inbox.rows[start["update_id"]].processed_at is not None)
    await pool.stop()
    assert len(harness.api.sent()) == 1


async def test_stop_waits_for_in_flight_handler_then_lets_nothing_new_start() -> None:
    inbox, release, started = InMemoryInbox(), asyncio.Event(), []

    async def held(update: Mapping[str, Any]) -> None:
        started.append(update["update_id"])
        await release.wait()

    await inbox.store(1, upd(1, 1), 1)
    pool = workers(inbox, held, workers=1)
    pool.start()
    await until(lambda: started == [1])
    await inbox.store(2, upd(2, 2), 2)
    stopping = asyncio.create_task(pool.stop(grace=5))
    release.set()
    await stopping
    assert inbox.rows[1].processed_at is not None
    assert started == [1]
    assert inbox.rows[2].processed_at is None


@pytest.mark.parametrize("grace", [0.05])
async def test_stop_past_grace_cancels_and_gives_the_lease_back(grace: float) -> None:
    inbox, started = InMemoryInbox(), []

    async def stuck(update: Mapping[str, Any]) -> None:
        started.append(update["update_id"])
        await asyncio.Event().wait()

    await inbox.store(1, upd(1), 1)
    pool = workers(inbox, stuck, workers=1)
    pool.start()
    await until(lambda: started == [1])
    await pool.stop(grace=grace)
    assert inbox.rows[1].locked_until is None
    assert inbox.rows[1].processed_at is None
    assert [i.update_id for i in await inbox.claim(1, 60)] == [1]


async def test_handler_slower_than_the_lease_keeps_its_update_while_renewing() -> None:
    clock, release, runs = ManualClock(), asyncio.Event(), Counter[int]()
    inbox = InMemoryInbox(clock)
    rival = InMemoryInbox(sharing=inbox)  # another process on the same updates

    async def slow(update: Mapping[str, Any]) -> None:
        runs[update["update_id"]] += 1
        await release.wait()

    await inbox.store(1, upd(1), 1)
    pool = workers(inbox, slow, workers=1, lease_seconds=10, renew_interval=0.01)
    pool.start()
    try:
        await until(lambda: runs[1] == 1)
        for _ in range(6):  # a minute of the handler running: six lease lengths
            clock.advance(seconds=9)
            renewed_to = clock.now() + timedelta(seconds=10)
            await until(lambda t=renewed_to: inbox.rows[1].locked_until == t, what="renewed")
            assert await rival.claim(1, 10) == []
        release.set()
        await until(lambda: inbox.rows[1].processed_at is not None)
    finally:
        release.set()
        await pool.stop()
    assert runs == {1: 1}


async def test_stopped_workers_leave_nothing_claimed_for_others() -> None:
    inbox, started = InMemoryInbox(), []
    rival = InMemoryInbox(sharing=inbox)

    async def stuck(update: Mapping[str, Any]) -> None:
        started.append(update["update_id"])
        await asyncio.Event().wait()

    for n in (1, 2):
        await inbox.store(n, upd(n, n), n)
    pool = workers(inbox, stuck, workers=2)
    pool.start()
    await until(lambda: sorted(started) == [1, 2])
    await pool.stop(grace=0.05)
    assert [i.update_id for i in await rival.claim(10, 60)] == [1, 2]


class Fatal(BaseException):
    """Something no worker survives (nothing in the bot raises it; it stands for a bug)."""


async def test_join_reports_a_worker_that_died_and_not_a_healthy_one() -> None:
    inbox, seen = InMemoryInbox(), []

    async def handle(update: Mapping[str, Any]) -> None:
        seen.append(update["update_id"])
        if update["message"]["text"] == "fatal":
            raise Fatal

    pool = workers(inbox, handle, workers=1)
    pool.start()
    joined = asyncio.create_task(pool.join())
    first = upd(1, 7)
    await inbox.store(first["update_id"], first, 7)
    await until(lambda: seen == [first["update_id"]])
    assert not joined.done()  # a handled update leaves the workers running
    fatal = message(8, "fatal")
    await inbox.store(fatal["update_id"], fatal, 8)
    with pytest.raises(Fatal):
        await asyncio.wait_for(joined, 5)
    await pool.stop(0.1)
