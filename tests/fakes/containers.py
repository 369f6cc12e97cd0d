"""The in-memory twin of ``entrypoints.application.Database`` (the same provider names on
the in-memory adapters, passed where the PostgreSQL container goes), and the production
``BotContainer`` built on it for tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from aiogram.fsm.storage.memory import MemoryStorage
from dependency_injector import containers, providers

from adapters.memory.inbox import InMemoryInbox
from adapters.memory.kie_callbacks import InMemoryCallbackStore
from adapters.memory.lock import InMemoryLock
from adapters.memory.metrics import InMemoryMetrics
from adapters.memory.payments import InMemoryPayments
from adapters.memory.referrals import InMemoryReferrals
from adapters.memory.storage import InMemoryStorage
from core.ports.chat import ChatPort
from core.ports.clock import ClockPort
from core.ports.generation import GenerationPort
from core.ports.lock import LockTimings
from core.ports.media import DownloaderPort
from entrypoints.containers import BotContainer
from entrypoints.settings import Settings


class InMemoryDatabase(containers.DeclarativeContainer):
    storage = providers.Singleton(InMemoryStorage)
    inbox = providers.Singleton(InMemoryInbox)
    kie_callbacks = providers.Singleton(InMemoryCallbackStore)
    referrals = providers.Singleton(InMemoryReferrals, storage)
    payments = providers.Singleton(InMemoryPayments, storage)
    fsm_storage = providers.Singleton(MemoryStorage)
    lock_timings = providers.Singleton(LockTimings)
    lock = providers.Singleton(InMemoryLock)


def use_case_container(
    settings: Settings,
    *,
    clock: ClockPort,
    sleep: Callable[[float], Awaitable[None]],
    chat: ChatPort,
    generation: GenerationPort | None = None,
    downloader: DownloaderPort | None = None,
) -> BotContainer:
    """The production ``BotContainer`` on the in-memory database, with the edges a use-case
    test drives by hand put in: its clock and waiting, a recording chat, and optionally a
    scripted generation or downloader (by default the ones the settings choose)."""
    container = BotContainer(
        settings=settings, database=InMemoryDatabase(), metrics=InMemoryMetrics()
    )
    adapters = container.adapters
    adapters.clock.override(providers.Object(clock))
    adapters.sleep.override(providers.Object(sleep))
    adapters.chat.override(providers.Object(chat))
    adapters.http.override(providers.Singleton(httpx.AsyncClient, follow_redirects=True))
    if generation is not None:
        adapters.generation.override(providers.Object(generation))
    if downloader is not None:
        adapters.downloader.override(providers.Object(downloader))
    return container
