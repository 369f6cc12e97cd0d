"""AiogramPollingSource against the recording Bot API: store first, then advance the offset."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiogram import Bot
from aiogram.methods import GetUpdates

from adapters.memory.inbox import InMemoryInbox
from adapters.telegram.polling import AiogramPollingSource
from entrypoints.runtime import store_in
from tests.conftest import TOKEN
from tests.fakes.telegram import FakeBotApi
from tests.fakes.updates import message
from tests.fakes.waiting import until


def source(api: FakeBotApi) -> AiogramPollingSource:
    bot = Bot(TOKEN, session=api)
    return AiogramPollingSource(bot, ["message"], timeout=0, initial_backoff=0.01)


def offsets(api: FakeBotApi) -> list[int | None]:
    return [r.offset for r in api.requests if isinstance(r, GetUpdates)]


async def test_updates_are_stored_before_the_offset_moves_past_them() -> None:
    api, inbox = FakeBotApi(), InMemoryInbox()
    api.updates = [message(1, "a"), message(1, "b")]
    ids = [u["update_id"] for u in api.updates]
    poller = source(api)
    task = asyncio.create_task(poller.run(store_in(inbox, "polling")))
    await until(lambda: ids[-1] + 1 in offsets(api))
    await poller.stop()
    await task
    assert sorted(inbox.rows) == ids
    assert api.updates == []  # confirmed to Telegram only after both were stored


async def test_a_failing_sink_keeps_the_offset_and_gets_the_update_again(caplog) -> None:
    api, stored, failures = FakeBotApi(), [], [1]
    api.updates = [message(2, "hello")]
    update_id = api.updates[0]["update_id"]

    async def flaky(update: Mapping[str, Any]) -> None:
        if failures:
            failures.pop()
            raise ConnectionError("database restarting")
        stored.append(update["update_id"])

    poller = source(api)
    task = asyncio.create_task(poller.run(flaky))
    await until(lambda: update_id + 1 in offsets(api))
    await poller.stop()
    await task
    assert stored == [update_id]
    assert offsets(api)[:2] == [None, None]  # the second fetch did not skip the update
    assert f"could not store update_id={update_id}" in caplog.text


async def test_409_conflict_is_logged_backed_off_and_polling_resumes(caplog) -> None:
    api, inbox = FakeBotApi(), InMemoryInbox()
    api.fail_next(GetUpdates, 409, "Conflict: terminated by other getUpdates request")
    api.fail_next(GetUpdates, 409, "Conflict: can't use getUpdates while webhook is active")
    api.updates = [message(3, "after conflict")]
    poller = source(api)
    task = asyncio.create_task(poller.run(store_in(inbox, "polling")))
    await until(lambda: len(inbox.rows) == 1)
    await poller.stop()
    await task
    assert caplog.text.count("409 Conflict") == 2
    assert len(offsets(api)) >= 3


async def test_stop_interrupts_a_long_poll_at_once() -> None:
    api = FakeBotApi()
    polling, never = asyncio.Event(), asyncio.Event()

    async def hanging(bot: Bot, method: Any, timeout: int | None = None) -> Any:
        polling.set()
        await never.wait()  # a 25 s long poll that nothing answers

    api.make_request = hanging  # type: ignore[method-assign]
    poller = source(api)
    task = asyncio.create_task(poller.run(store_in(InMemoryInbox(), "polling")))
    await asyncio.wait_for(polling.wait(), 2)
    await poller.stop()
    await asyncio.wait_for(task, 2)
