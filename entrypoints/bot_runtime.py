"""The aiogram side of a runtime (imported in a thread after the port is bound: ~3.5 s)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dependency_injector import providers

from adapters.http.app import Ingest
from adapters.http.kie_callback import KieCallbackDeps, kie_callback_routes
from adapters.http.metrics import PrometheusMetrics
from adapters.postgres.fsm import PostgresFsmStorage
from adapters.postgres.inbox import PostgresInbox
from adapters.postgres.kie_callbacks import PostgresCallbackStore
from adapters.postgres.lock import PostgresAdvisoryLock
from adapters.postgres.storage import PostgresStorage
from adapters.telegram.polling import HttpxPollingSource
from core.ports.lock import LockTimings
from core.usecases.duties import Duty, DutyRunner
from core.usecases.ingest import IngestUpdate
from core.usecases.lock_supervisor import LockSupervisor
from entrypoints.containers import BotContainer
from entrypoints.runtime import ServiceTask, dispatch_to, store_in
from entrypoints.settings import Settings
from entrypoints.workers import InboxWorkers

log = logging.getLogger(__name__)


class BotRuntime:
    """Workers on every instance; polling or setWebhook plus singleton jobs only while ACTIVE."""

    def __init__(
        self,
        settings: Settings,
        mode: str,
        url: str,
        pool: Any,
        inbox: PostgresInbox,
        ingest: Ingest | None,
    ) -> None:
        self._settings, self._mode, self._inbox, self._ingest = settings, mode, inbox, ingest
        self.container = BotContainer(settings=settings)
        self.container.adapters.storage.override(providers.Object(PostgresStorage(pool)))
        self.container.fsm_storage.override(providers.Object(PostgresFsmStorage(pool)))
        self.container.adapters.kie_callbacks.override(
            providers.Object(PostgresCallbackStore(pool))
        )
        self.container.adapters.catalog()  # a bad catalog or KIE mode stops us here
        self.container.adapters.generation()
        self.bot = self.container.adapters.bot()
        self.dispatcher = self.container.dispatcher()
        self.workers = InboxWorkers(
            inbox,
            dispatch_to(self.dispatcher, self.bot),
            workers=settings.inbox_workers,
            max_attempts=settings.inbox_max_attempts,
            lease_seconds=settings.inbox_lease_seconds,
        )
        if ingest is not None:
            assert ingest.store is not None  # serve opens the webhook ingest before this
            ingest.store.on_stored = self.workers.wake
        timings = LockTimings(
            heartbeat_interval=settings.lock_heartbeat_interval,
            stale_idle_seconds=settings.lock_stale_idle_seconds,
            retry_interval=settings.lock_retry_interval,
        )
        self.lock = PostgresAdvisoryLock(url, timings=timings)
        self.supervisor = LockSupervisor(self.lock, timings, on_active=self._active)
        self._poller: HttpxPollingSource | None = None
        self.duties = DutyRunner()
        # Every instance submits and delivers jobs (not only the lock holder).
        self.job_runner = ServiceTask("job-runner", self.container.usecases.runner().run)

    async def watch(self) -> None:
        """Raises when the lock supervisor, the job runner or the inbox workers ended by
        themselves: the process must not live on half alive (taking updates while nobody
        handles, submits or reconciles them), so the caller exits non-zero and the platform
        restarts it."""
        services = {
            asyncio.ensure_future(self.supervisor.join()): "the lock supervisor",
            asyncio.ensure_future(self.job_runner.join()): "the job runner",
            asyncio.ensure_future(self.workers.join()): "the inbox workers",
        }
        done, pending = await asyncio.wait(services, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        ended = next(iter(done))
        cause = None if ended.cancelled() else ended.exception()
        raise RuntimeError(f"{services[ended]} ended") from cause

    def allowed_updates(self) -> list[str]:
        """Every update type a handler or middleware listens to: Telegram never delivers a
        type left out of the list."""
        return sorted(set(self.dispatcher.resolve_used_update_types()))

    def http_routes(self) -> list[Any]:
        """Routes registered on the already-running app once aiogram and the container exist."""
        adapters, usecases = self.container.adapters, self.container.usecases
        deps = KieCallbackDeps(
            clock=adapters.clock(),
            catalog=adapters.catalog(),
            receive=usecases.receive_callback(),
            process=usecases.process_callbacks(),
            hmac_key=(
                self._settings.kie_webhook_hmac_key.get_secret_value()
                if self._settings.kie_webhook_hmac_key
                else None
            ),
            tolerance_seconds=self._settings.kie_callback_tolerance_seconds,
        )
        return kie_callback_routes(deps)

    async def start(self) -> None:
        self.job_runner.start()
        if self._settings.inbox_workers:
            self.workers.start()
        await self.supervisor.start()

    async def _active(self, epoch: int | None) -> None:
        log.info("[LOCK] ACTIVE (epoch %s): starting %s duties", epoch, self._mode)
        settings = self._settings
        reconciler = self.container.usecases.reconcile()

        async def reconcile() -> None:
            report = await reconciler.run_once()
            if report != type(report)():
                log.info("reconciled %s", report)

        async def purge() -> None:
            purged = await self._inbox.purge_processed(settings.inbox_retention_hours * 3600)
            if purged:
                log.info("[INBOX] purged %d processed update(s)", purged)

        duties = [
            Duty("reconcile", reconcile, every=settings.reconcile_interval_seconds),
            Duty("purge", purge, every=600),
        ]
        if self._mode == "webhook":
            duties.insert(0, Duty("set_webhook", self._set_webhook))
        else:
            if self._poller is None:  # kept across lock losses: one HTTP client per process
                self._poller = HttpxPollingSource(
                    settings.telegram_bot_token.get_secret_value(),
                    self.allowed_updates(),
                    api_base=settings.telegram_api_base,
                )
            ingest = IngestUpdate(self._inbox, PrometheusMetrics(), self.workers.wake)
            sink = store_in(ingest, "polling")
            poller = self._poller
            duties.insert(0, Duty("polling", lambda: poller.run(sink)))
        await self.duties.run(duties)

    async def _set_webhook(self) -> None:
        base = self._settings.webhook_base_url
        assert self._ingest is not None
        if not base:
            log.warning("[WEBHOOK] WEBHOOK_BASE_URL unset: not calling setWebhook")
            return
        url = f"{base.rstrip('/')}/webhook/{self._ingest.path_secret}"
        allowed = self.allowed_updates()
        # Never drop_pending_updates: what Telegram holds for us is still the users'.
        await self.bot.set_webhook(
            url,
            secret_token=self._ingest.secret_token,
            allowed_updates=allowed,
            drop_pending_updates=False,
        )
        log.info("[WEBHOOK_ACTIVE] webhook ensured, allowed_updates=%s", ",".join(allowed))

    async def stop(self, grace: float) -> None:
        if self._poller is not None:
            await self._poller.stop()  # no new updates taken; the offset stays where stored
            await self._poller.close()
        await self.workers.stop(grace)
        await self.job_runner.stop()  # after the workers: nothing rings it any more
        await self.supervisor.stop()  # cancels singleton jobs, releases the lock
        await self.bot.session.close()
        await self.container.adapters.http().aclose()
