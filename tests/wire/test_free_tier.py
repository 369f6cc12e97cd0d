"""The free tier through the real ``kiebot`` process on PostgreSQL: free generations from the
Free screen to the chat, the quota running out, and a refused free job giving its use back.

The money and the uses are read from the database (ledger entries, ``free_uses``), never
from what the bot says. One mode is enough: the free tier does not depend on how updates
arrive, and webhook mode is what production runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.tg_user import BotMessage, TgUser
from tests.fakes.waiting import wait_for
from tests.pg import PgCluster
from tests.wire.stack import WELCOME, Stack, press_and_wait, skip_to_confirmation

QUOTA = 2
FREE_MODEL = "gpt-image-2"


@pytest.fixture(scope="module")
def free_stack(pg_cluster: PgCluster, migrated_template: str) -> Iterator[Stack]:
    name = pg_cluster.create_database(template=migrated_template)
    running = Stack("webhook", pg_cluster.url(name), FREE_DAILY_QUOTA=QUOTA)
    try:
        yield running.start()
    finally:
        running.close()
        pg_cluster.drop_database(name)


def free_screen(user: TgUser) -> BotMessage:
    before = user.last_message()
    user.send_command("/free")
    return user.wait_for_message(
        lambda m: "free generation" in m.body,
        after=before.message_id if before else None,
    )


def open_free_confirmation(user: TgUser, prompt: str) -> BotMessage:
    """/free → GPT Image 2 → prompt (→ skip the options); returns the confirmation."""
    screen = free_screen(user)
    press_and_wait(user, f"md:{FREE_MODEL}", message_id=screen.message_id)
    user.wait_for_message(lambda m: "GPT Image 2" in m.body and "x" in m.callback_data)
    user.send_text(prompt)
    return skip_to_confirmation(user)


def confirm(user: TgUser, confirmation: BotMessage, taps: int = 1) -> None:
    [data] = [d for d in confirmation.callback_data if d.startswith("cf:")]
    presses = [user.press(data, message_id=confirmation.message_id) for _ in range(taps)]
    for update in presses:  # every tap was handled before the test looks at the jobs
        user.wait_for_answer(update)


def uses(stack: Stack, user_id: int) -> list[tuple[str, bool]]:
    """(job id, given back) per free use, oldest first."""
    rows = stack.query(
        "SELECT job_id, returned_at IS NOT NULL FROM free_uses WHERE user_id = %s"
        " ORDER BY created_at, job_id",
        user_id,
    )
    return [(str(job_id), bool(back)) for job_id, back in rows]


def job_money(stack: Stack, job_id: str) -> list[tuple[str, int, int]]:
    rows = stack.query(
        "SELECT kind, amount, held FROM ledger_entries WHERE job_id = %s ORDER BY seq", job_id
    )
    return [(str(kind), int(amount), int(held)) for kind, amount, held in rows]


def delivered(stack: Stack, user_id: int, count: int) -> list[dict[str, object]]:
    wait_for(
        lambda: [j["status"] for j in stack.jobs(user_id)] == ["delivered"] * count,
        30,
        f"{count} delivered",
    )
    return stack.jobs(user_id)


def test_free_generations_cost_nothing_until_the_quota_is_used(free_stack: Stack) -> None:
    stack, user_id = free_stack, 9101
    user = stack.user(user_id)
    assert f"{QUOTA} of {QUOTA} free generations left today" in free_screen(user).body

    confirmation = open_free_confirmation(user, "a lighthouse at dusk")
    assert "Price: 0.00 RUB" in confirmation.body
    confirm(user, confirmation, taps=2)  # a double tap takes one use
    user.wait_for_message(lambda m: m.media == "photo", 30)
    [first] = delivered(stack, user_id, 1)
    assert first["price"] == 0
    assert uses(stack, user_id) == [(first["id"], False)]  # delivered: the use is kept
    assert job_money(stack, str(first["id"])) == [("hold", 0, 0), ("capture", 0, 0)]
    assert stack.balance(user_id) == (WELCOME, 0)

    confirm(user, open_free_confirmation(user, "a lighthouse at dawn"))
    delivered(stack, user_id, 2)
    assert f"0 of {QUOTA} free generations left today" in free_screen(user).body

    paid = open_free_confirmation(user, "a lighthouse at noon")
    assert "Price: 2.85 RUB" in paid.body
    confirm(user, paid)
    jobs = delivered(stack, user_id, 3)
    assert [j["price"] for j in jobs] == [0, 0, 285]
    assert len(uses(stack, user_id)) == QUOTA
    wait_for(lambda: stack.balance(user_id) == (WELCOME - 285, 0), 10, "captured once")


def test_a_refused_free_generation_gives_its_use_back(free_stack: Stack) -> None:
    stack, user_id = free_stack, 9201
    user = stack.user(user_id)
    confirm(user, open_free_confirmation(user, "something the policy refuses kie:policy"))
    user.wait_for_message(lambda m: "refused the request" in m.body, 30)
    wait_for(lambda: stack.jobs(user_id)[0]["status"] == "failed", 10, "failed")
    [job] = stack.jobs(user_id)
    wait_for(lambda: uses(stack, user_id) == [(job["id"], True)], 10, "use given back")
    assert job["price"] == 0
    assert job_money(stack, str(job["id"])) == [("hold", 0, 0), ("release", 0, 0)]
    assert stack.balance(user_id) == (WELCOME, 0)
    assert f"{QUOTA} of {QUOTA} free generations left today" in free_screen(user).body
