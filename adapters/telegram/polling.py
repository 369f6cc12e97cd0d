"""AiogramPollingSource: getUpdates in a loop; the offset moves only after the sink returned."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramConflictError, TelegramNetworkError, TelegramServerError

from core.ports.updates import UpdateSink, UpdateSource

log = logging.getLogger(__name__)


class AiogramPollingSource(UpdateSource):
    """The sink stores the update durably (the inbox); only then is it acknowledged to Telegram
    by asking for the next offset. A sink failure re-fetches the same updates after a backoff.
    Never ``drop_pending_updates``; a 409 (another poller, or a webhook is set) backs off."""

    def __init__(
        self,
        bot: Bot,
        allowed_updates: list[str],
        timeout: int = 25,
        max_backoff: float = 30.0,
        initial_backoff: float = 1.0,
    ) -> None:
        self._bot = bot
        self._allowed = allowed_updates
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._initial_backoff = initial_backoff
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Future[Any] | None = None

    async def run(self, sink: UpdateSink) -> None:
        offset: int | None = None
        backoff = self._initial_backoff
        while not self._stopping.is_set():
            try:
                updates = await self._get_updates(offset)
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    return  # stop() interrupted the long poll; nothing was acknowledged
                raise
            except TelegramConflictError:
                log.error(
                    "[POLLING] 409 Conflict: another poller or a webhook is active "
                    "(deleteWebhook or stop the other instance); retrying in %.0fs",
                    backoff,
                )
                backoff = await self._backoff(backoff)
                continue
            except (TelegramNetworkError, TelegramServerError) as exc:
                log.warning("[POLLING] getUpdates failed: %s; retrying in %.0fs", exc, backoff)
                backoff = await self._backoff(backoff)
                continue
            backoff = self._initial_backoff
            for update in updates:
                try:
                    await sink(update.model_dump(mode="json", exclude_none=True, by_alias=True))
                except Exception as exc:
                    # Not stored: keep the offset, so Telegram hands this update out again.
                    log.warning(
                        "[POLLING] could not store update_id=%s: %s; retrying in %.0fs",
                        update.update_id,
                        exc,
                        backoff,
                    )
                    backoff = await self._backoff(backoff)
                    break
                offset = update.update_id + 1

    async def _get_updates(self, offset: int | None) -> list[Any]:
        self._fetch = asyncio.ensure_future(
            self._bot.get_updates(
                offset=offset,
                timeout=self._timeout,
                allowed_updates=self._allowed,
                request_timeout=self._timeout + 10,
            )
        )
        try:
            return list(await self._fetch)
        finally:
            self._fetch = None

    async def _backoff(self, seconds: float) -> float:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return min(seconds * 2, self._max_backoff)

    async def stop(self) -> None:
        self._stopping.set()
        if self._fetch is not None and not self._fetch.done():
            self._fetch.cancel()
