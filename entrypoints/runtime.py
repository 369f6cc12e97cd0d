"""Long-running pieces shared by the runtimes: the inbox handler, the sinks, singleton loops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from pydantic import ValidationError

from adapters.http.metrics import UPDATES_DUPLICATE, UPDATES_INGESTED
from adapters.http.updates import chat_key
from core.ports.inbox import InboxPort, MalformedUpdate
from core.usecases.reconcile import ReconcileJobs

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


def store_in(inbox: InboxPort, source: str, on_stored: Callable[[], None] = lambda: None):  # type: ignore[no-untyped-def]
    """An UpdateSink that only stores: the poller advances its offset once this returned."""

    async def sink(update: Mapping[str, Any]) -> None:
        if await inbox.store(update["update_id"], update, chat_key(update)):
            UPDATES_INGESTED.labels(source).inc()
            on_stored()
        else:
            UPDATES_DUPLICATE.labels(source).inc()

    return sink


async def reconcile_forever(reconciler: ReconcileJobs, interval: float) -> None:
    while True:
        try:
            report = await reconciler.run_once()
            if report != type(report)():
                log.info("reconciled %s", report)
        except Exception:
            log.exception("reconciler pass failed")
        await asyncio.sleep(interval)


async def purge_forever(inbox: InboxPort, retention_seconds: float, interval: float) -> None:
    """Processed updates are kept 48 h (duplicate redeliveries stay no-ops), then deleted."""
    while True:
        try:
            purged = await inbox.purge_processed(retention_seconds)
            if purged:
                log.info("[INBOX] purged %d processed update(s)", purged)
        except Exception as exc:
            log.warning("[INBOX] purge failed: %s", exc)
        await asyncio.sleep(interval)
