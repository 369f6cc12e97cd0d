"""The ReferralsPort contract, run against InMemoryReferrals and PostgresReferrals.

Each adapter posts its bonuses to the ledger of the storage beside it, so the suite reads the
money back through that storage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import attrs
import pytest

from adapters.memory.referrals import InMemoryReferrals
from adapters.memory.storage import InMemoryStorage
from adapters.postgres.pool import open_pool
from adapters.postgres.referrals import PostgresReferrals
from adapters.postgres.storage import PostgresStorage
from core.domain.errors import IdempotencyConflict
from core.domain.ledger import Balance, EntryKind, LedgerEntry
from core.ports.referrals import Referral, ReferralsPort, ReferralStats
from core.ports.storage import StoragePort
from core.usecases.referrals import AcceptReferral, invitee_key
from tests.contract.factories import T0, at, user

INVITER = 10
OTHER_INVITER = 11
INVITEE = 20
USERS = (INVITER, OTHER_INVITER, INVITEE, 21, 22)


@attrs.frozen
class World:
    referrals: ReferralsPort
    storage: StoragePort

    async def money(self) -> dict[int, tuple[Balance, int]]:
        """Every test user's balance and number of ledger entries."""
        return {
            u: (await self.storage.balance(u), len(await self.storage.entries(u, 100)))
            for u in USERS
        }


@pytest.fixture
async def world(storage_url: str | None) -> AsyncIterator[World]:
    if storage_url is None:
        memory = InMemoryStorage()
        made = World(InMemoryReferrals(memory), memory)
        for u in USERS:
            await made.storage.upsert_user(user(u))
        yield made
        return
    pool = await open_pool(storage_url, max_size=6)
    try:
        made = World(PostgresReferrals(pool), PostgresStorage(pool))
        for u in USERS:
            await made.storage.upsert_user(user(u))
        yield made
    finally:
        await pool.close()


def referral(
    invitee: int = INVITEE,
    inviter: int = INVITER,
    *,
    to_inviter: int = 2000,
    to_invitee: int = 1000,
) -> Referral:
    return Referral(invitee, inviter, T0, inviter_bonus=to_inviter, invitee_bonus=to_invitee)


def bonuses(r: Referral) -> list[LedgerEntry]:
    """The entries the use case posts for a referral."""
    return AcceptReferral.bonuses(r)


# ------------------------------------------------------------------------------ codes


async def test_a_users_code_is_stored_once_and_never_changes(world: World) -> None:
    referrals = world.referrals
    assert await referrals.code_of(INVITER) is None
    assert await referrals.claim_code(INVITER, "Abc123XYZ0", T0) == "Abc123XYZ0"
    assert await referrals.claim_code(INVITER, "Other12345", at(5)) == "Abc123XYZ0"
    assert await referrals.code_of(INVITER) == "Abc123XYZ0"
    assert await referrals.owner_of("Abc123XYZ0") == INVITER
    assert await referrals.owner_of("Other12345") is None  # the second candidate was not kept


async def test_a_code_taken_by_someone_else_is_refused(world: World) -> None:
    referrals = world.referrals
    assert await referrals.claim_code(INVITER, "Taken00001", T0) == "Taken00001"
    assert await referrals.claim_code(OTHER_INVITER, "Taken00001", T0) is None
    assert await referrals.code_of(OTHER_INVITER) is None
    assert await referrals.owner_of("Taken00001") == INVITER
    assert await referrals.claim_code(OTHER_INVITER, "Fresh00002", T0) == "Fresh00002"


async def test_unknown_codes_and_users_have_no_answer(world: World) -> None:
    referrals = world.referrals
    await referrals.claim_code(INVITER, "CaseCode01", T0)
    assert await referrals.owner_of("nosuchcode") is None
    assert await referrals.owner_of("casecode01") is None  # codes are case-sensitive
    assert await referrals.owner_of("") is None
    assert await referrals.code_of(999) is None


# -------------------------------------------------------------------------- referrals


async def test_recording_a_referral_pays_both_sides_at_once(world: World) -> None:
    r = referral()
    assert await world.referrals.record(r, bonuses(r)) is True
    assert await world.referrals.inviter_of(INVITEE) == r
    assert await world.storage.balance(INVITER) == Balance(2000, 0)
    assert await world.storage.balance(INVITEE) == Balance(1000, 0)
    [paid] = await world.storage.entries(INVITEE)
    assert (paid.key, paid.kind, paid.amount) == (invitee_key(INVITEE), EntryKind.BONUS, 1000)
    assert await world.referrals.stats(INVITER) == ReferralStats(1, 2000)


async def test_a_replayed_referral_changes_nothing(world: World) -> None:
    r = referral()
    assert await world.referrals.record(r, bonuses(r)) is True
    before = await world.money()
    assert await world.referrals.record(r, bonuses(r)) is False
    assert await world.money() == before
    assert await world.referrals.stats(INVITER) == ReferralStats(1, 2000)


async def test_an_invitee_never_gets_a_second_inviter(world: World) -> None:
    first = referral()
    assert await world.referrals.record(first, bonuses(first)) is True
    before = await world.money()
    second = referral(inviter=OTHER_INVITER)
    assert await world.referrals.record(second, bonuses(second)) is False
    assert await world.referrals.inviter_of(INVITEE) == first
    assert await world.money() == before
    assert await world.referrals.stats(OTHER_INVITER) == ReferralStats(0, 0)


async def test_two_inviters_racing_for_one_invitee_pay_once(world: World) -> None:
    a, b = referral(), referral(inviter=OTHER_INVITER)
    results = await asyncio.gather(
        world.referrals.record(a, bonuses(a)), world.referrals.record(b, bonuses(b))
    )
    assert sorted(results) == [False, True]
    winner = await world.referrals.inviter_of(INVITEE)
    assert winner in (a, b)
    money = await world.money()
    assert money[INVITEE] == (Balance(1000, 0), 1)
    assert money[INVITER][0].total + money[OTHER_INVITER][0].total == 2000


async def test_a_refused_bonus_leaves_no_referral_and_no_money(world: World) -> None:
    # The invitee's key was used for another command: the inviter's entry (posted first by
    # user order) must go with the referral.
    clash = LedgerEntry(invitee_key(INVITEE), INVITEE, EntryKind.BONUS, amount=5, reason="x")
    await world.storage.post(clash)
    before = await world.money()
    r = referral()
    with pytest.raises(IdempotencyConflict):
        await world.referrals.record(r, bonuses(r))
    assert await world.referrals.inviter_of(INVITEE) is None
    assert await world.money() == before
    assert await world.referrals.stats(INVITER) == ReferralStats(0, 0)


async def test_a_referral_without_bonuses_still_counts(world: World) -> None:
    r = referral(to_inviter=0, to_invitee=0)
    assert bonuses(r) == []
    assert await world.referrals.record(r, []) is True
    assert await world.referrals.stats(INVITER) == ReferralStats(1, 0)
    assert (await world.money())[INVITEE] == (Balance(0, 0), 0)


async def test_stats_count_only_the_inviters_own_referrals(world: World) -> None:
    for invitee, inviter, amount in ((20, INVITER, 2000), (21, INVITER, 300), (22, 11, 700)):
        r = referral(invitee, inviter, to_inviter=amount)
        assert await world.referrals.record(r, bonuses(r))
    assert await world.referrals.stats(INVITER) == ReferralStats(2, 2300)
    assert await world.referrals.stats(OTHER_INVITER) == ReferralStats(1, 700)
    assert await world.referrals.stats(INVITEE) == ReferralStats(0, 0)
    assert await world.referrals.inviter_of(INVITER) is None


def test_a_referral_to_oneself_or_with_negative_bonuses_cannot_exist() -> None:
    with pytest.raises(ValueError, match="themselves"):
        Referral(INVITER, INVITER, T0)
    with pytest.raises(ValueError, match="negative"):
        Referral(INVITEE, INVITER, T0, inviter_bonus=-1)
