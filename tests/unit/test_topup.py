"""Stars top-ups on the production wiring (in-memory adapters): the bounds of a purchase, the
amount it credits at the configured rate, the pre-checkout answers, and the credit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from adapters.memory.payments import InMemoryPayments
from adapters.memory.storage import InMemoryStorage
from adapters.system import ManualClock
from core.domain.ledger import Balance
from core.ports.payments import CreditOutcome, PurchaseStatus, StarsPayment
from core.usecases.topup import (
    CheckPreCheckout,
    CreditStarsPayment,
    PreCheckout,
    StarsOffer,
    StartTopUp,
    TopUpError,
)
from entrypoints.settings import ConfigError
from tests.conftest import ClockSleep, make_settings
from tests.fakes.chat import RecordingChat
from tests.fakes.containers import use_case_container

USER = 7
OTHER = 8
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


class TopUpWorld:
    def __init__(self, **settings: Any) -> None:
        self.clock = ManualClock(NOW)
        container = use_case_container(
            make_settings(welcome_balance=0, **settings),
            clock=self.clock,
            sleep=ClockSleep(self.clock),
            chat=RecordingChat(),
        )
        usecases = container.usecases
        self.storage: InMemoryStorage = container.adapters.storage()
        self.payments: InMemoryPayments = container.adapters.payments()
        self.register = usecases.register_user()
        self.offer: StarsOffer = usecases.stars_offer()
        self.start: StartTopUp = usecases.start_topup()
        self.check: CheckPreCheckout = usecases.check_pre_checkout()
        self.credit: CreditStarsPayment = usecases.credit_stars()

    async def users(self) -> TopUpWorld:
        await self.register(USER, "en")
        await self.register(OTHER, "en")
        return self


def paid(purchase_id: str, stars: int, *, charge: str = "ch-1", user: int = USER) -> StarsPayment:
    return StarsPayment(charge, purchase_id, user, stars, "XTR", NOW)


# ---------------------------------------------------------------------------- the offer


def test_the_offer_comes_from_the_settings() -> None:
    world = TopUpWorld(stars_rate_minor=250, stars_presets="10, 20,40", stars_min=5, stars_max=40)
    assert world.offer == StarsOffer(250, (10, 20, 40), 5, 40)
    assert world.offer.amount_of(7) == 1_750


def test_the_default_offer() -> None:
    offer = TopUpWorld().offer
    assert offer == StarsOffer(180, (50, 100, 250, 500, 1000), 1, 10_000)
    assert offer.amount_of(100) == 18_000


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"stars_rate_minor": 0}, "STARS_RATE_MINOR"),
        ({"stars_presets": "50,0"}, "STARS_PRESETS"),
        ({"stars_presets": "50,abc"}, "STARS_PRESETS"),
        ({"stars_presets": "50,20000"}, "STARS_PRESETS"),
        ({"stars_min": 0}, "STARS_MIN"),
        ({"stars_min": 20, "stars_max": 10, "stars_presets": "15"}, "STARS_MIN"),
    ],
)
def test_a_bad_offer_is_a_config_line(env: dict[str, Any], variable: str) -> None:
    with pytest.raises(ConfigError) as refused:
        make_settings(**env)
    assert any(variable in line for line in refused.value.problems), refused.value.problems


@pytest.mark.parametrize(
    "values",
    [
        {"minor_per_star": 0},
        {"minor_per_star": 1, "min_stars": 0},
        {"minor_per_star": 1, "min_stars": 10, "max_stars": 9, "presets": ()},
        {"minor_per_star": 1, "presets": (0,)},
        {"minor_per_star": 1, "max_stars": 100, "presets": (50, 500)},
    ],
)
def test_an_inconsistent_offer_cannot_be_built(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        StarsOffer(**values)


# ------------------------------------------------------------------------- purchases


async def test_a_purchase_fixes_the_amount_at_the_rate_of_the_moment() -> None:
    world = await TopUpWorld(stars_rate_minor=180).users()
    purchase = await world.start(USER, 250)
    assert (purchase.user_id, purchase.stars, purchase.amount) == (USER, 250, 45_000)
    assert (purchase.status, purchase.created_at) == (PurchaseStatus.OPEN, NOW)
    assert len(purchase.id) >= 20  # the invoice payload: not guessable
    assert await world.payments.get_purchase(purchase.id) == purchase
    other = await world.start(USER, 250)
    assert other.id != purchase.id


@pytest.mark.parametrize("stars", [1, 10, 10_000])
async def test_the_bounds_are_inclusive(stars: int) -> None:
    world = await TopUpWorld(stars_min=1, stars_max=10_000).users()
    assert (await world.start(USER, stars)).stars == stars


@pytest.mark.parametrize("stars", [-5, 0, 4, 101])
async def test_an_amount_outside_the_bounds_is_refused_and_stores_nothing(stars: int) -> None:
    world = await TopUpWorld(stars_min=5, stars_max=100, stars_presets="5,100").users()
    with pytest.raises(TopUpError, match="between 5 and 100"):
        await world.start(USER, stars)
    assert world.payments.purchases == {}


# ---------------------------------------------------------------------- pre-checkout


async def test_pre_checkout_answers() -> None:
    world = await TopUpWorld().users()
    purchase = await world.start(USER, 100)
    pid = purchase.id
    assert await world.check(USER, pid, "XTR", 100) is PreCheckout.OK
    assert await world.check(USER, "no-such-purchase", "XTR", 100) is PreCheckout.UNKNOWN
    assert await world.check(OTHER, pid, "XTR", 100) is PreCheckout.UNKNOWN
    assert await world.check(USER, pid, "XTR", 99) is PreCheckout.CHANGED
    assert await world.check(USER, pid, "XTR", 101) is PreCheckout.CHANGED
    assert await world.check(USER, pid, "USD", 100) is PreCheckout.CHANGED
    # Checking changes nothing: the purchase is still open and nothing was credited.
    assert await world.payments.get_purchase(pid) == purchase
    assert await world.storage.balance(USER) == Balance(0, 0)


async def test_pre_checkout_refuses_a_paid_purchase() -> None:
    world = await TopUpWorld().users()
    purchase = await world.start(USER, 100)
    assert (await world.credit(paid(purchase.id, 100)))[0] is CreditOutcome.CREDITED
    assert await world.check(USER, purchase.id, "XTR", 100) is PreCheckout.PAID
    assert await world.check(OTHER, purchase.id, "XTR", 100) is PreCheckout.UNKNOWN


# ---------------------------------------------------------------------------- credits


async def test_a_payment_credits_the_purchase_amount_once() -> None:
    world = await TopUpWorld(stars_rate_minor=200).users()
    purchase = await world.start(USER, 50)
    outcome, settled = await world.credit(paid(purchase.id, 50))
    assert outcome is CreditOutcome.CREDITED
    assert settled == attrs.evolve(purchase, status=PurchaseStatus.PAID)
    assert await world.storage.balance(USER) == Balance(10_000, 0)
    assert (await world.credit(paid(purchase.id, 50)))[0] is CreditOutcome.DUPLICATE
    assert await world.storage.balance(USER) == Balance(10_000, 0)


async def test_a_rate_change_does_not_change_what_an_open_invoice_credits() -> None:
    early = await TopUpWorld(stars_rate_minor=100).users()
    purchase = await early.start(USER, 10)
    # The same storage read by a bot restarted with a new rate.
    late = TopUpWorld(stars_rate_minor=500)
    late_credit = CreditStarsPayment(early.payments)
    assert late.offer.amount_of(10) == 5_000
    assert (await late_credit(paid(purchase.id, 10)))[0] is CreditOutcome.CREDITED
    assert await early.storage.balance(USER) == Balance(1_000, 0)


async def test_a_payment_for_someone_elses_purchase_credits_nobody() -> None:
    world = await TopUpWorld().users()
    purchase = await world.start(USER, 100)
    outcome, shown = await world.credit(paid(purchase.id, 100, user=OTHER))
    assert (outcome, shown) == (CreditOutcome.REFUSED, None)
    assert await world.storage.balance(USER) == Balance(0, 0)
    assert await world.storage.balance(OTHER) == Balance(0, 0)
    assert world.payments.refused("ch-1") is True
