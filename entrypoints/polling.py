"""The polling runtime: getUpdates → dispatcher, plus the reconciler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from entrypoints.containers import PollingContainer
from entrypoints.runtime import dispatch_to, reconcile_forever
from entrypoints.settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings) -> None:
    container = PollingContainer(settings=settings)
    container.adapters.catalog()  # a bad catalog or KIE mode stops us before Telegram is called
    container.adapters.generation()
    bot = container.adapters.bot()
    dispatcher = container.dispatcher()
    updates = container.updates()
    me = await bot.get_me()
    log.info(
        "[STARTUP] polling as @%s storage=memory kie_mode=%s",
        me.username,
        settings.generation_mode,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(updates.stop()))
    reconciler = asyncio.create_task(
        reconcile_forever(container.usecases.reconcile(), settings.reconcile_interval_seconds)
    )
    try:
        await updates.run(dispatch_to(dispatcher, bot))
    finally:
        reconciler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reconciler
        await bot.session.close()
        await container.adapters.http().aclose()
        log.info("[SHUTDOWN] stopped")
