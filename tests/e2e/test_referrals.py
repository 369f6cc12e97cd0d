"""Referrals through the real dispatcher: the invite screen, and /start ref_<code> paying both
sides once for a brand-new user, and nothing for anything else."""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from aiogram.methods import EditMessageText, SendMessage

from adapters.memory.referrals import InMemoryReferrals
from core.domain.ledger import EntryKind
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import last_markup_data
from tests.fakes.updates import callback, message

INVITER = 601
FRIEND = 602
OTHER = 603
WELCOME = 10_000  # make_settings' welcome balance
LINK = re.compile(r"https://t\.me/kie_test_bot\?start=(ref_[A-Za-z0-9]+)")


def referrals_of(harness: BotHarness) -> InMemoryReferrals:
    referrals = harness.container.adapters.referrals()
    assert isinstance(referrals, InMemoryReferrals)
    return referrals


def snapshot(harness: BotHarness) -> tuple[list[Any], dict[int, Any], dict[int, str]]:
    """Everything a referral can change: the ledger, the referrals and the codes."""
    referrals = referrals_of(harness)
    return list(harness.storage.ledger), dict(referrals.referrals), dict(referrals.codes)


def said_to(harness: BotHarness, chat_id: int) -> list[str]:
    return [
        str(r.text)
        for r in harness.api.requests
        if isinstance(r, (SendMessage, EditMessageText)) and r.chat_id == chat_id
    ]


def greeting(harness: BotHarness, lang: str = "en") -> str:
    return harness.container.adapters.translator()(lang, "start-greeting", name="Ann")


async def invite_payload(harness: BotHarness, user_id: int) -> str:
    """The /start parameter of the user's invite link, as the invite screen shows it."""
    await harness.feed(message(user_id, "/invite"))
    [payload] = LINK.findall(said_to(harness, user_id)[-1])
    return payload


async def balance(harness: BotHarness, user_id: int) -> int:
    return (await harness.storage.balance(user_id)).total


# ------------------------------------------------------------------------- the screen


async def test_the_invite_screen_shows_a_stable_link_and_what_it_brought(
    harness: BotHarness,
) -> None:
    await harness.feed(message(INVITER, "/start"))
    assert "m:invite" in last_markup_data(harness)

    payload = await invite_payload(harness, INVITER)
    text = said_to(harness, INVITER)[-1]
    assert re.fullmatch(r"ref_[A-Za-z0-9]{10}", payload)
    assert "you get 20.00 RUB and your friend gets 10.00 RUB" in text
    assert "Friends joined: 0\nBonuses earned: 0.00 RUB" in text
    [share] = [
        b.url
        for row in harness.api.sent(SendMessage)[-1].reply_markup.inline_keyboard
        for b in row
        if b.url
    ]
    query = parse_qs(urlparse(share).query)
    assert share.startswith("https://t.me/share/url?")
    assert query["url"] == [f"https://t.me/kie_test_bot?start={payload}"]
    assert last_markup_data(harness) == [None, "m:home"]  # the share button has a URL

    assert await invite_payload(harness, INVITER) == payload  # stored, never remade
    await harness.feed(callback(INVITER, "m:invite"))
    edited = harness.api.requests[-1]
    assert isinstance(edited, EditMessageText)
    assert f"start={payload}" in str(edited.text)
    assert referrals_of(harness).codes == {INVITER: payload.removeprefix("ref_")}


async def test_the_invite_screen_speaks_russian(harness: BotHarness) -> None:
    await harness.feed(message(INVITER, "/invite", lang="ru"))
    text = said_to(harness, INVITER)[-1]
    assert "Ваша ссылка: https://t.me/kie_test_bot?start=ref_" in text
    assert "Друзей по вашей ссылке: 0" in text
    assert "вы получите 20.00 RUB, а друг — 10.00 RUB" in text


# --------------------------------------------------------------------- paying a referral


async def test_a_new_user_through_the_link_pays_both_sides(harness: BotHarness) -> None:
    payload = await invite_payload(harness, INVITER)
    await harness.feed(message(FRIEND, f"/start {payload}"))

    assert said_to(harness, FRIEND)[-1] == (
        greeting(harness) + "\n\n🎁 You came with a friend's invitation: 10.00 RUB added to "
        "your balance."
    )
    assert said_to(harness, INVITER)[-1] == (
        "🎉 A friend started the bot through your invite link: 20.00 RUB added to your balance."
    )
    assert await balance(harness, FRIEND) == WELCOME + 1000
    assert await balance(harness, INVITER) == WELCOME + 2000
    bonuses = {e.key: (e.user_id, e.kind, e.amount) for e in harness.storage.ledger}
    assert bonuses[f"ref:invitee:{FRIEND}"] == (FRIEND, EntryKind.BONUS, 1000)
    assert bonuses[f"ref:inviter:{FRIEND}"] == (INVITER, EntryKind.BONUS, 2000)
    recorded = referrals_of(harness).referrals[FRIEND]
    assert (recorded.inviter_id, recorded.created_at) == (INVITER, harness.clock.now())

    await invite_payload(harness, INVITER)
    assert "Friends joined: 1\nBonuses earned: 20.00 RUB" in said_to(harness, INVITER)[-1]


async def test_a_replayed_start_pays_nothing_more(harness: BotHarness) -> None:
    payload = await invite_payload(harness, INVITER)
    update = message(FRIEND, f"/start {payload}")
    await harness.feed(copy.deepcopy(update))
    paid = snapshot(harness)
    assert len(paid[0]) == 4  # two welcomes, two bonuses

    await harness.feed(copy.deepcopy(update))  # the same update delivered again
    assert snapshot(harness) == paid
    assert said_to(harness, FRIEND)[-1] == greeting(harness)  # greeted, no second bonus


async def test_a_user_who_used_the_bot_before_gets_nothing(harness: BotHarness) -> None:
    payload = await invite_payload(harness, INVITER)
    await harness.feed(message(OTHER, "/start"))
    before = snapshot(harness)

    await harness.feed(message(OTHER, f"/start {payload}"))
    assert snapshot(harness) == before
    assert said_to(harness, OTHER)[-1] == greeting(harness)


async def test_a_second_link_never_gives_an_invitee_a_second_inviter(
    harness: BotHarness,
) -> None:
    first = await invite_payload(harness, INVITER)
    second = await invite_payload(harness, OTHER)
    await harness.feed(message(FRIEND, f"/start {first}"))
    before = snapshot(harness)

    await harness.feed(message(FRIEND, f"/start {second}"))
    assert snapshot(harness) == before
    assert referrals_of(harness).referrals[FRIEND].inviter_id == INVITER


@pytest.mark.parametrize(
    "argument",
    [
        "ref_NoSuchCode",
        "ref_",
        "ref_a",
        "ref_" + "A" * 60,
        "ref_../../etc",
        "REF_{code}",
        "ref_{code}x",
        "{code}",
        "ref_{swapped}",
        "something-else",
    ],
)
async def test_an_unknown_or_forged_code_is_ignored(harness: BotHarness, argument: str) -> None:
    payload = await invite_payload(harness, INVITER)
    code = payload.removeprefix("ref_")
    before = snapshot(harness)
    inviter_said = len(said_to(harness, INVITER))

    forged = argument.format(code=code, swapped=code.swapcase())  # codes are case-sensitive
    await harness.feed(message(FRIEND, f"/start {forged}"))

    assert said_to(harness, FRIEND) == [greeting(harness)]
    ledger, referrals, codes = snapshot(harness)
    assert [e.key for e in ledger[len(before[0]) :]] == [f"welcome:{FRIEND}"]  # only the usual
    assert (referrals, codes) == before[1:]
    assert len(said_to(harness, INVITER)) == inviter_said


async def test_a_users_own_code_pays_nothing(harness: BotHarness) -> None:
    # Only reachable if a code exists before its owner is registered (the in-memory twin
    # allows that; PostgreSQL's foreign key does not): the guard must hold even then.
    referrals = referrals_of(harness)
    assert await referrals.claim_code(FRIEND, "SelfCode01", harness.clock.now())
    await harness.feed(message(FRIEND, "/start ref_SelfCode01"))

    assert said_to(harness, FRIEND) == [greeting(harness)]
    assert [e.key for e in harness.storage.ledger] == [f"welcome:{FRIEND}"]
    assert referrals.referrals == {}


async def test_an_inviter_who_blocked_the_bot_does_not_spoil_the_friends_start(
    harness: BotHarness,
) -> None:
    payload = await invite_payload(harness, INVITER)
    harness.api.fail_next(SendMessage, 403, "Forbidden: bot was blocked by the user")
    await harness.feed(message(FRIEND, f"/start {payload}"))

    assert "10.00 RUB added to your balance" in said_to(harness, FRIEND)[-1]
    assert await balance(harness, INVITER) == WELCOME + 2000  # paid even though not told
    assert await balance(harness, FRIEND) == WELCOME + 1000


async def test_without_bonuses_a_referral_is_counted_and_pays_nothing() -> None:
    harness = BotHarness(referral_bonus_inviter=0, referral_bonus_invitee=0)
    payload = await invite_payload(harness, INVITER)
    assert "count as yours" in said_to(harness, INVITER)[-1]
    await harness.feed(message(FRIEND, f"/start {payload}"))

    assert said_to(harness, FRIEND) == [greeting(harness)]
    assert said_to(harness, INVITER)[-1].startswith("🎁 Invite friends")  # no notice
    assert [e.key for e in harness.storage.ledger] == [f"welcome:{INVITER}", f"welcome:{FRIEND}"]
    assert referrals_of(harness).referrals[FRIEND].inviter_id == INVITER
    await invite_payload(harness, INVITER)
    assert "Friends joined: 1\nBonuses earned: 0.00 RUB" in said_to(harness, INVITER)[-1]
