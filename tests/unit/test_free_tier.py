"""The free tier on the production wiring (in-memory adapters): quotes, confirmations, the
outcomes that give a free use back or keep it, UTC days, the Free screen's read model, and the
money, which a free job never moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from adapters.memory.storage import InMemoryStorage
from adapters.system import ManualClock
from core.domain.jobs import FailureKind, Job, JobStatus
from core.ports.media import Downloaded, DownloaderPort
from core.usecases.free_tier import FreeTier, free_models, refills_at, utc_day
from entrypoints.settings import ConfigError
from tests.conftest import ClockSleep, make_settings
from tests.fakes.chat import RecordingChat
from tests.fakes.containers import use_case_container

USER = 7
FREE_MODEL = "gpt-image-2"
FREE_PRICE = 285  # 3 credits × 0.005 × 95 × 2 = 2.85 RUB
PAID_MODEL = "z-image"
WELCOME = 1_000
MIDNIGHT = datetime(2026, 3, 10, tzinfo=UTC)


class PngDownloader(DownloaderPort):
    async def download(self, url: str, max_bytes: int) -> Downloaded:
        return Downloaded("out.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "image/png")


class FreeWorld:
    def __init__(self, quota: int = 3, start: datetime = MIDNIGHT, **settings: Any) -> None:
        self.clock = ManualClock(start)
        self.chat = RecordingChat()
        container = use_case_container(
            make_settings(welcome_balance=WELCOME, free_daily_quota=quota, **settings),
            clock=self.clock,
            sleep=ClockSleep(self.clock),
            chat=self.chat,
            downloader=PngDownloader(),
        )
        usecases = container.usecases
        self.storage: InMemoryStorage = container.adapters.storage()
        self.register = usecases.register_user()
        self.quote = usecases.quote()
        self.confirm = usecases.confirm()
        self.runner = usecases.runner()
        self.reconcile = usecases.reconcile()
        self.screen = usecases.show_free_tier()
        self.free_tier: FreeTier = usecases.free_tier()

    async def start(self) -> FreeWorld:
        await self.register(USER, "en")
        return self

    async def confirm_job(
        self, key: str, model: str = FREE_MODEL, prompt: str = "a lighthouse"
    ) -> Job:
        confirmation = await self.confirm(
            confirm_key=key,
            user_id=USER,
            chat_id=USER,
            lang="en",
            model_id=model,
            params={"prompt": prompt},
        )
        return confirmation.job

    async def money(self) -> tuple[int, int]:
        balance = await self.storage.balance(USER)
        return balance.total, balance.held

    async def used_today(self) -> int:
        return await self.storage.free_used(USER, utc_day(self.clock.now()))

    async def settle_all(self) -> None:
        """Submit, let the stub finish, poll the result and deliver it."""
        await self.runner.run_once()
        self.clock.advance(seconds=5)
        await self.reconcile.run_once()
        await self.runner.run_once()


async def world(quota: int = 3, **settings: Any) -> FreeWorld:
    return await FreeWorld(quota, **settings).start()


# ---------------------------------------------------------------------------- UTC days


@pytest.mark.parametrize(
    ("now", "day", "refill"),
    [
        (datetime(2026, 3, 10, 0, 0, tzinfo=UTC), "2026-03-10", "2026-03-11T00:00:00+00:00"),
        (
            datetime(2026, 3, 10, 23, 59, 59, 999_999, tzinfo=UTC),
            "2026-03-10",
            "2026-03-11T00:00:00+00:00",
        ),
        # 01:30 in Moscow is still the previous UTC day.
        (
            datetime(2026, 3, 11, 1, 30, tzinfo=timezone(timedelta(hours=3))),
            "2026-03-10",
            "2026-03-11T00:00:00+00:00",
        ),
        (datetime(2026, 12, 31, 12, 0, tzinfo=UTC), "2026-12-31", "2027-01-01T00:00:00+00:00"),
    ],
)
def test_days_are_utc_days_and_refill_at_the_next_utc_midnight(
    now: datetime, day: str, refill: str
) -> None:
    assert utc_day(now).isoformat() == day
    assert refills_at(now).isoformat() == refill


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        utc_day(datetime(2026, 3, 10, 12, 0))


# ---------------------------------------------------------------------------- settings


def test_the_quota_defaults_to_3_and_must_not_be_negative() -> None:
    assert make_settings().free_daily_quota == 3
    assert make_settings(free_daily_quota=0).free_daily_quota == 0
    with pytest.raises(ConfigError, match="FREE_DAILY_QUOTA"):
        make_settings(free_daily_quota=-1)


def test_the_quota_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FREE_DAILY_QUOTA", "5")
    assert make_settings().free_daily_quota == 5


def test_a_negative_policy_quota_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        FreeTier(InMemoryStorage(), ManualClock(), daily_quota=-1)


# ---------------------------------------------------------------------------- quotes


async def test_a_free_sku_is_quoted_free_while_uses_are_left() -> None:
    w = await world(quota=2)
    quote = await w.quote(USER, FREE_MODEL, {"prompt": "a lighthouse"})
    assert (quote.free, quote.free_left, quote.price, quote.list_price) == (
        True,
        2,
        0,
        FREE_PRICE,
    )
    assert (quote.affordable, quote.balance_after) == (True, WELCOME)


async def test_a_used_up_quota_quotes_the_usual_price() -> None:
    w = await world(quota=1)
    await w.confirm_job("d1")
    quote = await w.quote(USER, FREE_MODEL, {"prompt": "a lighthouse"})
    assert (quote.free, quote.free_left, quote.price, quote.list_price) == (
        False,
        0,
        FREE_PRICE,
        FREE_PRICE,
    )


async def test_a_paid_sku_or_a_zero_quota_quotes_as_before() -> None:
    w = await world()
    paid = await w.quote(USER, PAID_MODEL, {"prompt": "a fox"})
    assert (paid.free, paid.free_left, paid.price, paid.list_price) == (False, None, 76, 76)
    off = await world(quota=0)
    quote = await off.quote(USER, FREE_MODEL, {"prompt": "a lighthouse"})
    assert (quote.free, quote.free_left, quote.price) == (False, None, FREE_PRICE)


# ---------------------------------------------------------------------------- confirmations


async def test_confirming_a_free_sku_holds_nothing_and_takes_one_use() -> None:
    w = await world()
    job = await w.confirm_job("d1")
    assert job.price == 0
    assert await w.storage.free_use(job.id) is not None
    assert await w.used_today() == 1
    assert await w.money() == (WELCOME, 0)


async def test_a_double_tap_takes_one_use() -> None:
    w = await world()
    first = await w.confirm_job("d1")
    again = await w.confirm(
        confirm_key="d1",
        user_id=USER,
        chat_id=USER,
        lang="en",
        model_id=FREE_MODEL,
        params={"prompt": "a lighthouse"},
    )
    assert (again.job.id, again.created) == (first.id, False)
    assert len(w.storage.jobs) == 1
    assert await w.used_today() == 1
    assert await w.money() == (WELCOME, 0)


async def test_past_the_quota_a_free_sku_is_charged_its_price() -> None:
    w = await world(quota=2)
    prices = [(await w.confirm_job(f"d{n}")).price for n in range(4)]
    assert prices == [0, 0, FREE_PRICE, FREE_PRICE]
    assert await w.used_today() == 2
    assert await w.money() == (WELCOME, 2 * FREE_PRICE)


async def test_a_paid_sku_takes_no_use() -> None:
    w = await world()
    job = await w.confirm_job("d1", model=PAID_MODEL)
    assert job.price == 76
    assert await w.storage.free_use(job.id) is None
    assert await w.used_today() == 0


async def test_a_zero_quota_turns_the_free_tier_off() -> None:
    w = await world(quota=0)
    job = await w.confirm_job("d1")
    assert job.price == FREE_PRICE
    assert w.storage.free_uses == {}
    assert await w.money() == (WELCOME, FREE_PRICE)


async def test_the_quota_refills_at_utc_midnight() -> None:
    w = await FreeWorld(quota=1, start=MIDNIGHT - timedelta(minutes=1)).start()
    assert (await w.confirm_job("d1")).price == 0
    assert (await w.confirm_job("d2")).price == FREE_PRICE
    w.clock.advance(minutes=1)  # 00:00 UTC
    assert (await w.confirm_job("d3")).price == 0
    assert await w.used_today() == 1


# ---------------------------------------------------------------------------- outcomes


async def test_a_delivered_free_job_keeps_its_use_and_costs_nothing() -> None:
    w = await world(quota=1)
    job = await w.confirm_job("d1")
    await w.settle_all()
    assert w.storage.jobs[job.id].status is JobStatus.DELIVERED
    assert [delivered for delivered, _ in w.chat.delivered] == [job.id]
    use = await w.storage.free_use(job.id)
    assert use is not None
    assert not use.returned
    assert await w.used_today() == 1
    assert await w.money() == (WELCOME, 0)
    assert all(e.amount == 0 and e.held == 0 for e in w.storage.ledger if e.job_id == job.id)
    assert (await w.quote(USER, FREE_MODEL, {"prompt": "x"})).free is False


async def test_a_failed_free_job_gives_its_use_back_and_costs_nothing() -> None:
    w = await world(quota=1)
    job = await w.confirm_job("d1", prompt="a lighthouse #fail")
    await w.settle_all()
    ended = w.storage.jobs[job.id]
    assert (ended.status, ended.failure) == (JobStatus.FAILED, FailureKind.PROVIDER_ERROR)
    use = await w.storage.free_use(job.id)
    assert use is not None
    assert use.returned
    assert await w.used_today() == 0
    assert await w.money() == (WELCOME, 0)
    assert (await w.confirm_job("d2")).price == 0  # the use is there to take again


async def test_a_free_job_no_runner_took_is_released_with_its_use() -> None:
    w = await world(quota=1)
    job = await w.confirm_job("d1")
    w.clock.advance(minutes=11)  # past the queue's timeout, nobody submitted it
    await w.reconcile.run_once()
    assert w.storage.jobs[job.id].status is JobStatus.FAILED
    assert await w.storage.free_used(USER, MIDNIGHT.date()) == 0
    assert await w.money() == (WELCOME, 0)


async def test_free_and_paid_jobs_together_charge_only_the_paid_ones() -> None:
    w = await world(quota=1)
    free = await w.confirm_job("d1")
    paid = await w.confirm_job("d2")
    failed = await w.confirm_job("d3", model=PAID_MODEL, prompt="a fox #fail")
    await w.settle_all()
    statuses = [w.storage.jobs[j.id].status for j in (free, paid, failed)]
    assert statuses == [JobStatus.DELIVERED, JobStatus.DELIVERED, JobStatus.FAILED]
    assert await w.money() == (WELCOME - FREE_PRICE, 0)


# ---------------------------------------------------------------------------- the Free screen


async def test_the_screen_counts_todays_uses_and_lists_the_free_models() -> None:
    w = await FreeWorld(quota=3, start=MIDNIGHT + timedelta(hours=15, minutes=20)).start()
    await w.confirm_job("d1")
    view = await w.screen(USER)
    assert (view.quota, view.left, view.enabled) == (3, 2, True)
    assert view.refills_at == MIDNIGHT + timedelta(days=1)
    assert [m.id for m in view.models] == [FREE_MODEL]


async def test_the_screen_is_off_with_a_zero_quota_or_no_visible_free_model() -> None:
    off = await world(quota=0)
    view = await off.screen(USER)
    assert (view.enabled, view.left, view.models) == (False, 0, [])
    hidden = await world(quota=3, hidden_models=(FREE_MODEL,))
    assert free_models(hidden.confirm.catalog) == []
    assert (await hidden.screen(USER)).enabled is False
