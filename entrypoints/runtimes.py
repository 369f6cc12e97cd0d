"""The two runtimes: what a process runs besides the HTTP server, for webhook or polling mode.

Both run the same services on every instance — the inbox workers and the job runner — and,
while this instance holds the lock, the duties of the lock holder under a ``DutyRunner``:
setting the command menu, reconciling jobs with Kie.ai, purging processed updates, and the
mode's own way of getting updates (``setWebhook`` or ``getUpdates``). They differ only in
that: ``WebhookRuntime`` serves the webhook ingest and registers it, ``PollingRuntime``
polls.

A runtime comes up in the order start-up opens things, so each step needs only what is
already there: ``open`` once the database is (the webhook ingest goes live), ``start`` once
aiogram and the bot's container are. Nothing here imports aiogram.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from adapters.http.app import Ingest
from adapters.http.updates import chat_key
from adapters.telegram.polling import HttpxPollingSource
from core.ports.inbox import InboxPort
from core.ports.metrics import MetricsPort
from core.ports.updates import RawUpdate, UpdateSink
from core.usecases.duties import Duty, DutyRunner
from core.usecases.inbox_workers import InboxWorkers
from core.usecases.ingest import IngestUpdate
from core.usecases.lock_supervisor import LockSupervisor
from entrypoints.provided import provided
from entrypoints.settings import Settings

log = logging.getLogger(__name__)


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


class BotRuntime(abc.ABC):
    """Workers on every instance; the mode's update duty plus the singleton jobs only while
    this instance holds the lock."""

    mode: str

    def __init__(self, settings: Settings, ingest: Ingest) -> None:
        self.settings = settings
        self.duties = DutyRunner()
        self.ingest = ingest
        """The webhook route's state; bound with the port, before the runtime is known."""
        self._inbox: InboxPort | None = None
        self._metrics: MetricsPort | None = None
        self.supervisor: LockSupervisor | None = None
        self._bot: Any = None
        self._dispatcher: Any = None
        self._workers: InboxWorkers | None = None
        self._job_runner: ServiceTask | None = None
        self._reconcile: Any = None
        self._commands: Any = None
        self._refunds: Any = None

    async def open(self, database: Any, metrics: MetricsPort) -> None:
        """The database is open: keep the inbox and the lock at hand."""
        self._inbox = await provided(database.inbox)
        self._metrics = metrics
        lock = await provided(database.lock)
        timings = await provided(database.lock_timings)
        self.supervisor = LockSupervisor(lock, timings, on_active=self._active)

    async def start(self, bot: Any) -> list[Any]:
        """aiogram and the bot's container (``bot``) are loaded: build the services from it,
        start them, and return the HTTP routes to mount (the Kie.ai callback)."""
        assert self.supervisor is not None, "open() first"
        self._bot = await provided(bot.adapters.bot)
        self._dispatcher = await provided(bot.dispatcher)
        self._workers = await provided(bot.workers)
        self._reconcile = await provided(bot.usecases.reconcile)
        self._commands = await provided(bot.commands)
        self._refunds = await provided(bot.usecases.refund_stars)
        runner = await provided(bot.usecases.runner)
        # Every instance submits and delivers jobs (not only the lock holder).
        self._job_runner = ServiceTask("job-runner", runner.run)
        routes: list[Any] = await provided(bot.callback_routes)
        self._job_runner.start()
        if self.settings.inbox_workers:
            self._workers.start()
        await self.supervisor.start()
        return routes

    def allowed_updates(self) -> list[str]:
        """Every update type a handler or middleware listens to: Telegram never delivers a
        type left out of the list."""
        return sorted(set(self._dispatcher.resolve_used_update_types()))

    def wake_workers(self) -> None:
        if self._workers is not None:
            self._workers.wake()

    async def watch(self) -> None:
        """Raises when the lock supervisor, the job runner or the inbox workers ended by
        themselves: the process must not live on half alive (taking updates while nobody
        handles, submits or reconciles them), so the caller exits non-zero and the platform
        restarts it."""
        assert self.supervisor is not None, "open() first"
        assert self._job_runner is not None, "start() first"
        assert self._workers is not None, "start() first"
        services = {
            asyncio.ensure_future(self.supervisor.join()): "the lock supervisor",
            asyncio.ensure_future(self._job_runner.join()): "the job runner",
            asyncio.ensure_future(self._workers.join()): "the inbox workers",
        }
        done, pending = await asyncio.wait(services, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        ended = next(iter(done))
        cause = None if ended.cancelled() else ended.exception()
        raise RuntimeError(f"{services[ended]} ended") from cause

    @abc.abstractmethod
    def update_duty(self) -> Duty:
        """How the lock holder gets Telegram's updates flowing to the inbox."""

    async def _active(self, epoch: int | None) -> None:
        log.info("[LOCK] ACTIVE (epoch %s): starting %s duties", epoch, self.mode)
        settings, inbox, reconciler = self.settings, self._inbox, self._reconcile
        assert inbox is not None

        async def reconcile() -> None:
            report = await reconciler.run_once()
            if report != type(report)():
                log.info("reconciled %s", report)

        async def purge() -> None:
            purged = await inbox.purge_processed(settings.inbox_retention_hours * 3600)
            if purged:
                log.info("[INBOX] purged %d processed update(s)", purged)

        await self.duties.run(
            [
                self.update_duty(),
                Duty("commands", self._commands.publish),
                # A refund recorded but not confirmed by Telegram is asked for again.
                Duty("refunds", self._refunds.retry_pending, every=60),
                Duty("reconcile", reconcile, every=settings.reconcile_interval_seconds),
                Duty("purge", purge, every=600),
            ]
        )

    async def stop(self, grace: float) -> None:
        """Take no new updates, let the workers finish, stop the job runner, give up the lock.
        What the containers opened (pool, HTTP clients, Bot session) they close afterwards."""
        if self._workers is not None:
            await self._workers.stop(grace)
        if self._job_runner is not None:
            await self._job_runner.stop()  # after the workers: nothing rings it any more
        if self.supervisor is not None:
            await self.supervisor.stop()  # cancels singleton jobs, releases the lock


class WebhookRuntime(BotRuntime):
    """``kiebot webhook``: Telegram posts into the inbox on every instance (active-active);
    the lock holder registers the webhook."""

    mode = "webhook"

    async def open(self, database: Any, metrics: MetricsPort) -> None:
        from adapters.postgres.bot_secrets import ensure_secret
        from entrypoints.logs import redact_also

        await super().open(database, metrics)
        ingest, pool = self.ingest, await provided(database.pool)
        path, token = self.settings.webhook_path_secret, self.settings.webhook_secret_token
        ingest.path_secret = path.get_secret_value() if path else await ensure_secret(pool, "path")
        ingest.secret_token = (
            token.get_secret_value() if token else await ensure_secret(pool, "secret_token")
        )
        redact_also(ingest.path_secret, ingest.secret_token)
        assert self._inbox is not None
        # The inbox workers do not exist yet: ``start`` wakes them once they do.
        ingest.store = IngestUpdate(self._inbox, metrics, self.wake_workers)
        log.info("[STARTUP] webhook ingest ready")

    def update_duty(self) -> Duty:
        return Duty("set_webhook", self._set_webhook)

    async def _set_webhook(self) -> None:
        base = self.settings.webhook_base_url
        if not base:
            log.warning("[WEBHOOK] WEBHOOK_BASE_URL unset: not calling setWebhook")
            return
        url = f"{base.rstrip('/')}/webhook/{self.ingest.path_secret}"
        allowed = self.allowed_updates()
        # Never drop_pending_updates: what Telegram holds for us is still the users'.
        await self._bot.set_webhook(
            url,
            secret_token=self.ingest.secret_token,
            allowed_updates=allowed,
            drop_pending_updates=False,
        )
        log.info("[WEBHOOK_ACTIVE] webhook ensured, allowed_updates=%s", ",".join(allowed))

    async def stop(self, grace: float) -> None:
        self.ingest.draining = True  # 503: Telegram keeps the update and retries
        await super().stop(grace)


class PollingRuntime(BotRuntime):
    """``kiebot polling``: the lock holder calls getUpdates and stores what it gets."""

    mode = "polling"

    def __init__(self, settings: Settings, ingest: Ingest) -> None:
        super().__init__(settings, ingest)
        ingest.served = False  # no webhook route in this mode: 404
        self._poller: HttpxPollingSource | None = None

    def update_duty(self) -> Duty:
        if self._poller is None:  # kept across lock losses: one HTTP client per process
            self._poller = HttpxPollingSource(
                self.settings.telegram_bot_token.get_secret_value(),
                self.allowed_updates(),
                api_base=self.settings.telegram_api_base,
            )
        assert self._inbox is not None
        assert self._metrics is not None
        sink = store_in(IngestUpdate(self._inbox, self._metrics, self.wake_workers))
        poller = self._poller
        return Duty("polling", lambda: poller.run(sink))

    async def stop(self, grace: float) -> None:
        if self._poller is not None:
            await self._poller.stop()  # no new updates taken; the offset stays where stored
            await self._poller.close()
        await super().stop(grace)


def store_in(ingest: IngestUpdate) -> UpdateSink:
    """An UpdateSink that only stores: the poller advances its offset once this returned."""

    async def sink(update: RawUpdate) -> None:
        await ingest(update["update_id"], update, chat_key(update), "polling")

    return sink
