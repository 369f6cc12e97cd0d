"""HttpxPollingSource: ``getUpdates`` in a loop, each update handed on as Telegram sent it.

The updates are decoded as plain JSON, never as aiogram models: a model dumped back to JSON
loses the fields aiogram does not know and can fail to serialise at all, and an update that
cannot be stored would then block every later one. Parsing into aiogram's types happens in the
inbox worker, where an unparseable update is parked on its own.

The offset moves past an update only after the sink (the inbox) returned for it, so a crash or
a failed store means Telegram hands the same update out again. ``drop_pending_updates`` is
never sent. A webhook left from an earlier webhook-mode deployment is deleted (its pending
updates kept) instead of answering every ``getUpdates`` with 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
import msgspec

from core.ports.updates import UpdateSink, UpdateSourcePort

log = logging.getLogger(__name__)

TELEGRAM_API = "https://api.telegram.org"
WEBHOOK_ACTIVE = "webhook is active"


class BotApiError(Exception):
    """A Bot API answer with ``ok: false`` (or not JSON at all)."""

    def __init__(self, status: int, description: str, retry_after: float | None = None):
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.retry_after = retry_after


class HttpxPollingSource(UpdateSourcePort):
    def __init__(
        self,
        token: str,
        allowed_updates: list[str],
        *,
        api_base: str | None = None,
        timeout: int = 25,
        max_backoff: float = 30.0,
        initial_backoff: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = f"{(api_base or TELEGRAM_API).rstrip('/')}/bot{token}/"
        self._allowed = allowed_updates
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._initial_backoff = initial_backoff
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout + 10.0, connect=10.0), transport=transport
        )
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Future[Any] | None = None

    async def call(self, method: str, **params: Any) -> Any:
        """One Bot API call; the ``result`` or a BotApiError."""
        try:
            response = await self._http.post(self._url + method, json=params)
        except httpx.HTTPError as exc:
            raise BotApiError(0, f"{type(exc).__name__}: {exc}") from None
        try:
            body = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise BotApiError(response.status_code, "answer is not JSON") from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            body = body if isinstance(body, dict) else {}
            retry = (body.get("parameters") or {}).get("retry_after")
            raise BotApiError(
                int(body.get("error_code") or response.status_code),
                str(body.get("description") or "no description"),
                float(retry) if isinstance(retry, int | float) else None,
            )
        return body.get("result")

    async def delete_stale_webhook(self) -> None:
        """Polling and a webhook exclude each other: a webhook still set is removed."""
        info = await self.call("getWebhookInfo")
        url = info.get("url") if isinstance(info, dict) else None
        if url:
            log.warning(
                "[POLLING] a webhook is set (%d pending update(s)); deleting it, keeping the "
                "pending updates",
                int(info.get("pending_update_count") or 0),
            )
            await self.call("deleteWebhook", drop_pending_updates=False)

    async def run(self, sink: UpdateSink) -> None:
        offset: int | None = None
        backoff = self._initial_backoff
        with contextlib.suppress(BotApiError):
            await self.delete_stale_webhook()  # best effort; a 409 below handles it too
        while not self._stopping.is_set():
            try:
                updates = await self._get_updates(offset)
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    return  # stop() interrupted the long poll; nothing was acknowledged
                raise
            except BotApiError as exc:
                backoff = await self._after_error(exc, backoff)
                continue
            backoff = self._initial_backoff
            for update in updates:
                update_id = update.get("update_id") if isinstance(update, dict) else None
                if not isinstance(update_id, int) or isinstance(update_id, bool):
                    # Nothing to store it under; the next update's offset acknowledges it.
                    log.error("[POLLING] skipped an update without an update_id: %.200r", update)
                    continue
                try:
                    await sink(update)
                except Exception as exc:
                    # Not stored: keep the offset, so Telegram hands this update out again.
                    log.warning(
                        "[POLLING] could not store update_id=%s: %s; retrying in %.0fs",
                        update_id,
                        exc,
                        backoff,
                    )
                    backoff = await self._backoff(backoff)
                    break
                offset = update_id + 1

    async def _after_error(self, exc: BotApiError, backoff: float) -> float:
        if exc.status == 409 and WEBHOOK_ACTIVE in exc.description:
            try:
                await self.delete_stale_webhook()
                return self._initial_backoff
            except BotApiError as again:
                exc = again
        if exc.status == 429 and exc.retry_after is not None:
            log.warning("[POLLING] getUpdates rate limited; retrying in %.0fs", exc.retry_after)
            await self._backoff(exc.retry_after)
            return backoff
        if exc.status == 409:
            log.error(
                "[POLLING] 409 Conflict: another instance is polling with this token (%s); "
                "retrying in %.0fs",
                exc.description,
                backoff,
            )
        elif exc.status in (401, 404):
            log.error(
                "[POLLING] the Bot API refused the token (%s): check TELEGRAM_BOT_TOKEN", exc
            )
        else:
            log.warning("[POLLING] getUpdates failed: %s; retrying in %.0fs", exc, backoff)
        return await self._backoff(backoff)

    async def _get_updates(self, offset: int | None) -> list[Any]:
        params: dict[str, Any] = {"timeout": self._timeout, "allowed_updates": self._allowed}
        if offset is not None:
            params["offset"] = offset
        self._fetch = asyncio.ensure_future(self.call("getUpdates", **params))
        try:
            result = await self._fetch
        finally:
            self._fetch = None
        return list(result) if isinstance(result, list) else []

    async def _backoff(self, seconds: float) -> float:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return min(seconds * 2, self._max_backoff)

    async def stop(self) -> None:
        self._stopping.set()
        if self._fetch is not None and not self._fetch.done():
            self._fetch.cancel()

    async def close(self) -> None:
        await self._http.aclose()
