"""Referrals as users meet them, on the real ``kiebot`` process and PostgreSQL, in both
runtimes: an invite link from /invite, a friend who starts the bot through it, and the same
/start coming in again."""

from __future__ import annotations

import copy
import re

from tests.fakes.tg_user import TgUser
from tests.wire.stack import WELCOME, Stack, press_and_wait

INVITER_BONUS = 2000  # the settings' defaults
INVITEE_BONUS = 1000
LINK = re.compile(r"https://t\.me/(\w+)\?start=(ref_[A-Za-z0-9]{10})")


def last_id(user: TgUser) -> int:
    return max((m.message_id for m in user.messages()), default=0)


def invite_payload(user: TgUser) -> str:
    """Send /invite and read the link off the bot's answer to it."""
    before = last_id(user)
    user.send_command("/invite")
    shown = user.wait_for_message(lambda m: "start=ref_" in m.body, after=before)
    match = LINK.search(shown.body)
    assert match is not None, shown.body
    return match.group(2)


def referral_rows(stack: Stack, invitee: int) -> list[tuple[int, int, int]]:
    return [
        (int(a), int(b), int(c))
        for a, b, c in stack.query(
            "SELECT inviter_id, inviter_bonus, invitee_bonus FROM referrals WHERE invitee_id = %s",
            invitee,
        )
    ]


def ledger_keys(stack: Stack, user_id: int) -> list[str]:
    return [
        str(r[0])
        for r in stack.query(
            "SELECT key FROM ledger_entries WHERE user_id = %s ORDER BY seq", user_id
        )
    ]


def start(user: TgUser, command: str) -> None:
    """Send a /start and wait for the greeting it brings (the one with the main menu)."""
    before = last_id(user)
    user.send_command(command)
    user.wait_for_message(lambda m: "m:invite" in m.callback_data, after=before)


def test_a_friend_through_the_link_pays_both_once(stack: Stack) -> None:
    inviter = stack.user(5401)
    friend = stack.user(5402)

    payload = invite_payload(inviter)
    username = LINK.search(inviter.texts()[-1]).group(1)  # type: ignore[union-attr]
    assert username == stack.api.bot_user["username"]  # from getMe
    assert "Friends joined: 0" in inviter.texts()[-1]

    start = friend.send_command(f"/start {payload}")
    friend.wait_for_text(f"{INVITEE_BONUS // 100}.00 RUB added to your balance")
    inviter.wait_for_text("A friend started the bot through your invite link")
    assert stack.balance(friend.id) == (WELCOME + INVITEE_BONUS, 0)
    assert stack.balance(inviter.id) == (WELCOME + INVITER_BONUS, 0)
    assert referral_rows(stack, friend.id) == [(inviter.id, INVITER_BONUS, INVITEE_BONUS)]
    assert ledger_keys(stack, friend.id) == [f"welcome:{friend.id}", f"ref:invitee:{friend.id}"]

    # The same /start again, as a new update (a client resending it): greeted, not paid.
    greeted = len(friend.texts())
    again = {key: copy.deepcopy(value) for key, value in start.items() if key != "update_id"}
    stack.api.push_update(again)
    friend.wait_until(lambda: len(friend.texts()) > greeted, what="the second greeting")
    assert "added to your balance" not in friend.texts()[-1]
    assert stack.balance(friend.id) == (WELCOME + INVITEE_BONUS, 0)
    assert stack.balance(inviter.id) == (WELCOME + INVITER_BONUS, 0)
    assert referral_rows(stack, friend.id) == [(inviter.id, INVITER_BONUS, INVITEE_BONUS)]

    # The inviter's screen, through the menu button this time, counts the friend.
    inviter.send_command("/start")
    menu = inviter.wait_for_message(lambda m: "m:invite" in m.callback_data)
    press_and_wait(inviter, "m:invite", message_id=menu.message_id)
    inviter.wait_until(
        lambda: "Friends joined: 1\nBonuses earned: 20.00 RUB" in inviter.texts()[-1],
        what="the invite screen with one friend",
    )
    assert invite_payload(inviter) == payload  # the link never changes


def test_a_forged_code_and_a_known_user_are_ignored(stack: Stack) -> None:
    inviter = stack.user(5403)
    known = stack.user(5404)
    stranger = stack.user(5405)
    payload = invite_payload(inviter)

    start(known, "/start")
    start(known, f"/start {payload}")
    start(stranger, "/start ref_Forged0000")

    for user in (known, stranger):
        assert "added to your balance" not in " ".join(user.texts())
        assert ledger_keys(stack, user.id) == [f"welcome:{user.id}"]
        assert referral_rows(stack, user.id) == []
    assert ledger_keys(stack, inviter.id) == [f"welcome:{inviter.id}"]
    assert stack.query("SELECT count(*) FROM referrals WHERE inviter_id = %s", inviter.id) == [
        (0,)
    ]
