"""Every button a user can reach from /start is answered within 2 s, in both runtimes.

A button press arrives as a callback_query carrying the whole message the bot sent (its
keyboard, entities, link_preview_options and fields aiogram may not know). Polling once
stopped for every user at the first such press; this walks the menus the way a user does.
"""

from __future__ import annotations

import contextlib

from tests.fakes.tg_user import TgUser
from tests.fakes.waiting import wait_for
from tests.wire.stack import Stack, press_and_wait

MODELS_PER_CATEGORY = 1
MAX_PRESSES = 80


def replay(user: TgUser, path: list[str]) -> int:
    """A fresh /start, then the presses of ``path``; returns the id of the menu message."""
    before = max((m.message_id for m in user.messages()), default=0)
    user.send_command("/start")
    menu = user.wait_for_message(lambda m: bool(m.callback_data), after=before).message_id
    for data in path:
        press_and_settle(user, data, wait_for_button(user, menu, data))
    return menu


def press_and_settle(user: TgUser, data: str, message_id: int) -> float:
    """Press, require the answer within 2 s, then wait for the edit or message it causes
    (a press that only shows a notice changes nothing, so the wait is bounded)."""
    before = view(user)
    latency = press_and_wait(user, data, message_id=message_id)
    with contextlib.suppress(AssertionError):
        wait_for(lambda: view(user) != before, 3, "the press's effect")
    return latency


def view(user: TgUser) -> set[tuple[int, int]]:
    return {(m.message_id, m.version) for m in user.messages()}


def wait_for_button(user: TgUser, since: int, data: str) -> int:
    """The newest message from ``since`` on that shows the button. Handlers answer the query
    first and edit or send after, so this waits for that to land."""
    found = user.wait_for_message(
        lambda m: m.message_id >= since and data in m.callback_data, timeout=5
    )
    return found.message_id


def newest_keyboard(user: TgUser, since: int) -> list[str]:
    """The buttons of the newest message from ``since`` on that has any (the menu's own
    message after an edit, or a new one the last press sent)."""
    for message in reversed(user.messages()):
        if message.message_id >= since and message.callback_data:
            return message.callback_data
    return []


def test_every_reachable_button_is_answered_within_2s(stack: Stack) -> None:
    user = stack.user(5101)
    latencies: list[float] = []
    seen: set[str] = set()
    frontier: list[list[str]] = [[]]
    presses = 0
    while frontier and presses < MAX_PRESSES:
        path = frontier.pop(0)
        menu = replay(user, path)
        keyboard = newest_keyboard(user, menu)
        models = [d for d in keyboard if d.startswith("md:")][:MODELS_PER_CATEGORY]
        buttons = [d for d in keyboard if d not in seen]
        for data in buttons:
            if data.startswith("md:") and data not in models:
                continue
            seen.add(data)
            if data.startswith("cf:"):
                continue  # confirming spends money: the generation tests do that
            menu = replay(user, path)
            target = wait_for_button(user, menu, data)
            latencies.append(press_and_settle(user, data, target))
            presses += len(path) + 1
            frontier.append([*path, data])
    assert len(latencies) >= 15, sorted(seen)
    assert {"c:image", "c:video", "m:balance", "m:help", "m:language"} <= seen
    assert any(d.startswith("md:") for d in seen)
    assert max(latencies) <= 2.0
    assert "Traceback" not in stack.output()
