"""Shared fixtures: settings built explicitly, and a bot wired with in-memory adapters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from aiogram import Bot
from dependency_injector import providers

from adapters.memory.metrics import InMemoryMetrics
from adapters.system import ManualClock
from entrypoints.containers import BotContainer
from entrypoints.settings import Settings, load_settings
from tests.fakes.containers import InMemoryDatabase
from tests.fakes.telegram import FakeBotApi

TOKEN = "4242:TEST-TOKEN-not-a-real-one"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "kie_mode": "stub",
        "kie_stub_delay_seconds": 3,
        "welcome_balance": 10_000,
        "progress_edit_gap_seconds": 0,  # every step shown at once; one test sets a gap
        "_env_file": None,
    }
    values.update(overrides)
    return load_settings(**values)


class ClockSleep:
    """Waiting that moves a ManualClock instead of taking time, remembering every wait."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds=seconds)


class BotHarness:
    """The real dispatcher and use cases, in-memory adapters, a fake Bot API and clock."""

    def __init__(self, **settings: Any) -> None:
        self.api = FakeBotApi()
        self.clock = ManualClock()
        self.sleep = ClockSleep(self.clock)
        self.metrics = InMemoryMetrics()
        self.container = BotContainer(
            settings=make_settings(**settings), database=InMemoryDatabase(), metrics=self.metrics
        )
        self.bot = Bot(TOKEN, session=self.api)
        # The resources a runtime opens, as plain objects: nothing to open or close here.
        self.container.adapters.bot.override(providers.Object(self.bot))
        self.container.adapters.http.override(
            providers.Singleton(httpx.AsyncClient, follow_redirects=True)
        )
        self.container.adapters.clock.override(providers.Object(self.clock))
        self.container.adapters.sleep.override(providers.Object(self.sleep))
        self.dispatcher = self.container.dispatcher()
        self.storage = self.container.adapters.storage()
        self.runner = self.container.usecases.runner()

    async def feed(self, update: dict[str, Any]) -> None:
        await self.dispatcher.feed_raw_update(self.bot, update)

    async def run_jobs(self) -> int:
        """What the job runner would do now: submit queued jobs, deliver produced results."""
        return await self.runner.run_once()

    async def reconcile(self) -> Any:
        return await self.container.usecases.reconcile().run_once()


@pytest.fixture
def harness() -> BotHarness:
    return BotHarness()
