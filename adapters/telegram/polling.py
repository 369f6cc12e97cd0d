"""AiogramPollingSource: getUpdates in a loop; the offset moves only after the sink returned."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramConflictError, TelegramNetworkError, TelegramServerError

from core.ports.updates import UpdateSink, UpdateSource

log = logging.getLogger(__name__)


class AiogramPollingSource(UpdateSource):
    def __init__(
        self, bot: Bot, allowed_updates: list[str], timeout: int = 25, max_backoff: float = 30.0
    ) -> None:
        self._bot = bot
        self._allowed = allowed_updates
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._stopping = asyncio.Event()

    async def run(self, sink: UpdateSink) -> None:
        offset: int | None = None
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                updates = await self._bot.get_updates(
                    offset=offset,
                    timeout=self._timeout,
                    allowed_updates=self._allowed,
                    request_timeout=self._timeout + 10,
                )
            except TelegramConflictError:
                log.error(
                    "[POLLING] 409 Conflict: another poller or a webhook is active; "
                    "retrying in %.0fs",
                    backoff,
                )
                await self._pause(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            except (TelegramNetworkError, TelegramServerError) as exc:
                log.warning("[POLLING] getUpdates failed: %s; retrying in %.0fs", exc, backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 1.0
            for update in updates:
                await sink(update.model_dump(mode="json", exclude_none=True, by_alias=True))
                offset = update.update_id + 1

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return

    async def stop(self) -> None:
        self._stopping.set()
