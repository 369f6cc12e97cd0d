"""Long-running pieces shared by the runtimes: the update pump and the reconciler loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiogram import Bot, Dispatcher

from core.usecases.reconcile import ReconcileJobs

log = logging.getLogger(__name__)


def dispatch_to(dispatcher: Dispatcher, bot: Bot):  # type: ignore[no-untyped-def]
    """An UpdateSink that runs the update through aiogram's dispatcher."""

    async def sink(update: Mapping[str, Any]) -> None:
        try:
            await dispatcher.feed_raw_update(bot, dict(update))
        except Exception:
            log.exception("update failed update_id=%s", update.get("update_id"))

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
