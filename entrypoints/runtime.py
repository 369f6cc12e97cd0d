"""Long-running pieces shared by the runtimes: the inbox handler, the sinks, singleton loops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from pydantic import ValidationError

from adapters.http.updates import chat_key
from core.ports.inbox import MalformedUpdate
from core.ports.metrics import UpdateOrigin
from core.ports.updates import RawUpdate, UpdateSink
from core.usecases.ingest import IngestUpdate

log = logging.getLogger(__name__)


def dispatch_to(
    dispatcher: Dispatcher, bot: Bot
) -> Callable[[Mapping[str, Any]], Awaitable[None]]:
    """The inbox workers' handler: a raw stored update through aiogram's dispatcher.

    Exceptions propagate, so the worker retries or parks the update instead of losing it.
    """

    async def handle(raw: Mapping[str, Any]) -> None:
        try:
            update = Update.model_validate(dict(raw), context={"bot": bot})
        except ValidationError as exc:
            raise MalformedUpdate(f"{exc.error_count()} validation error(s): {exc}") from None
        await dispatcher.feed_update(bot, update)

    return handle


def store_in(ingest: IngestUpdate, source: UpdateOrigin) -> UpdateSink:
    """An UpdateSink that only stores: the poller advances its offset once this returned."""

    async def sink(update: RawUpdate) -> None:
        await ingest(update["update_id"], update, chat_key(update), source)

    return sink


class ServiceTask:
    """A coroutine that runs for the whole life of an instance (the job runner), started with
    the runtime and cancelled at shutdown; it should never end by itself, so if it does that
    is logged as an error."""

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)
            self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            log.error("%s ended by itself: %r", self.name, task.exception())

    async def join(self) -> None:
        """Wait until the service ends by itself; re-raises what ended it."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
