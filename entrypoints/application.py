"""The process's composition root, the part opened before aiogram is imported.

``Application`` holds what a runtime needs from its first second: the runtime class for the
mode (``BOT_MODE``, or the command that overrides it), the metrics, and ``Database``, the
PostgreSQL side — the pool and the advisory lock as resources, opened by
``init_resources()`` and closed in reverse order by ``shutdown_resources()``, and the
adapters that run on them. The webhook ingest goes live on these alone, so updates are stored
while aiogram and the handlers are still loading (``entrypoints/containers.py``, the bot's
half). Tests put ``tests/fakes/containers.InMemoryDatabase`` where ``Database`` goes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from dependency_injector import containers, providers

from adapters.http.app import Ingest
from adapters.http.metrics import PrometheusMetrics
from adapters.postgres.inbox import PostgresInbox
from adapters.postgres.kie_callbacks import PostgresCallbackStore
from adapters.postgres.lock import PostgresAdvisoryLock
from adapters.postgres.payments import PostgresPayments
from adapters.postgres.pool import open_pool
from adapters.postgres.referrals import PostgresReferrals
from adapters.postgres.storage import PostgresStorage
from core.ports.lock import LockTimings
from entrypoints.runtimes import PollingRuntime, WebhookRuntime
from entrypoints.settings import Settings


async def postgres_pool(url: str, max_size: int) -> AsyncIterator[Any]:
    pool = await open_pool(url, max_size=max_size)
    try:
        yield pool
    finally:
        await pool.close()


async def advisory_lock(url: str, timings: LockTimings) -> AsyncIterator[PostgresAdvisoryLock]:
    lock = PostgresAdvisoryLock(url, timings=timings)
    try:
        yield lock
    finally:
        await lock.release()  # a no-op when the supervisor already stepped down


def lock_timings(settings: Settings) -> LockTimings:
    return LockTimings(
        heartbeat_interval=settings.lock_heartbeat_interval,
        stale_idle_seconds=settings.lock_stale_idle_seconds,
        retry_interval=settings.lock_retry_interval,
    )


def postgres_fsm_storage(pool: Any) -> Any:
    # The FSM storage is an aiogram class: imported when the bot's half asks for it, which is
    # after aiogram is loaded, never while the port is being bound.
    from adapters.postgres.fsm import PostgresFsmStorage

    return PostgresFsmStorage(pool)


class Database(containers.DeclarativeContainer):
    """Every adapter that keeps state, on one PostgreSQL database."""

    settings = providers.Dependency(instance_of=Settings)
    url = providers.Dependency(instance_of=str)

    pool = providers.Resource(postgres_pool, url, settings.provided.db_maxconn)
    lock_timings = providers.Singleton(lock_timings, settings)
    lock = providers.Resource(advisory_lock, url, lock_timings)
    """LockPort: which instance is ACTIVE; released on shutdown."""
    storage = providers.Singleton(PostgresStorage, pool)
    inbox = providers.Singleton(PostgresInbox, pool)
    kie_callbacks = providers.Singleton(PostgresCallbackStore, pool)
    referrals = providers.Singleton(PostgresReferrals, pool)
    payments = providers.Singleton(PostgresPayments, pool)
    fsm_storage = providers.Singleton(postgres_fsm_storage, pool)


class Application(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    database_url = providers.Dependency(instance_of=str)
    """Known once start-up has it: DATABASE_URL, or the embedded server's."""
    ingest = providers.Dependency(instance_of=Ingest)
    """The webhook route's state, made before the port was bound."""

    database = providers.Container(Database, settings=settings, url=database_url)
    metrics = providers.Singleton(PrometheusMetrics)
    runtime = providers.Selector(
        settings.provided.bot_mode,
        webhook=providers.Singleton(WebhookRuntime, settings, ingest),
        polling=providers.Singleton(PollingRuntime, settings, ingest),
    )
