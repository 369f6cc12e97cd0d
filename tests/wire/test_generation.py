"""Generations from /start to the chat, in both runtimes, against the fake Kie.ai server.

The bot runs its real Kie.ai adapter: createTask, callbacks (webhook mode) or recordInfo
polling (polling mode runs without a public URL), result download, delivery. The money is
read from the ledger in PostgreSQL, never from what the bot says.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adapters.catalog.loader import DEFAULT_DIR
from tests.fakes.kie_server import Outcome
from tests.fakes.processes import http
from tests.fakes.tg_user import BotMessage, TgUser
from tests.fakes.waiting import wait_for
from tests.wire.stack import WELCOME, Stack, press_and_wait, skip_to_confirmation

INTERNALS = ("Kie.ai 4", "Kie.ai 5", "(4", "(5", "Traceback", "Error", "http")


def confirm_z_image(user: TgUser, prompt: str) -> BotMessage:
    """/start → Images → Z-Image → prompt → Confirm; returns the confirmation message."""
    user.send_command("/start")
    user.wait_for_message(lambda m: "c:image" in m.callback_data)
    press_and_wait(user, "c:image")
    user.wait_for_message(lambda m: "md:z-image" in m.callback_data)
    press_and_wait(user, "md:z-image")
    user.wait_for_message(lambda m: "Z-Image" in m.body and "x" in m.callback_data)
    user.send_text(prompt)
    confirmation = skip_to_confirmation(user)
    [data] = [d for d in confirmation.callback_data if d.startswith("cf:")]
    press_and_wait(user, data)
    return confirmation


def final_text(user: TgUser, fragment: str, timeout: float = 30.0) -> BotMessage:
    return user.wait_for_message(lambda m: fragment in m.body, timeout)


def price_of(stack: Stack, user_id: int) -> int:
    [job] = stack.jobs(user_id)
    return int(job["price"])


def test_a_paid_generation_reaches_the_chat_and_is_charged_once(stack: Stack) -> None:
    user = stack.user(7101)
    confirm_z_image(user, "a red fox in the snow, https://example.com/style")
    photo = user.wait_for_message(lambda m: m.media == "photo", 30)
    assert photo.content is not None
    assert photo.content.startswith(b"\x89PNG")
    wait_for(lambda: stack.jobs(7101)[0]["status"] == "delivered", 10, "delivered")
    price = price_of(stack, 7101)
    assert price > 0
    assert stack.balance(7101) == (WELCOME - price, 0)
    assert stack.ledger_kinds(7101)[-2:] == ["hold", "capture"]
    [created] = stack.kie.created()
    assert created["input"]["prompt"].startswith("a red fox")
    assert ("callBackUrl" in created) is (stack.mode == "webhook")


def test_a_failed_generation_returns_the_money_and_says_why_in_one_sentence(
    stack: Stack,
) -> None:
    user = stack.user(7201)
    confirm_z_image(user, "something the policy refuses kie:policy")
    told = final_text(user, "refused the request")
    assert "returned to your balance" in told.body
    assert not any(marker in told.body for marker in INTERNALS), told.body
    assert told.callback_data  # a way back to the menu
    wait_for(lambda: stack.balance(7201) == (WELCOME, 0), 10, "hold released")
    [job] = stack.jobs(7201)
    assert (job["status"], job["failure"]) == ("failed", "rejected")


def test_an_html_page_as_the_result_is_not_charged(stack: Stack) -> None:
    user = stack.user(7301)
    confirm_z_image(user, "a lighthouse at night kie:html_result")
    told = final_text(user, "could not be fetched", 45)
    assert "returned to your balance" in told.body
    assert not any(m.media for m in user.messages())
    wait_for(lambda: stack.balance(7301) == (WELCOME, 0), 10, "hold released")
    [job] = stack.jobs(7301)
    assert (job["status"], job["failure"]) == ("failed", "undeliverable")
    assert job["delivery_attempts"] >= 2
    assert "capture" not in stack.ledger_kinds(7301)


def test_a_502_on_create_tells_the_user_at_once_and_never_charges(stack: Stack) -> None:
    """The task was created behind the gateway error. With a callback URL (webhook mode) the
    callback proves it and the result is delivered; without one nothing can find the task,
    and the money is held only while the user is told it is being checked."""
    user = stack.user(7401)
    stack.kie.script(Outcome("create_502", created=True))
    confirm_z_image(user, "a teapot shaped like a whale")
    final_text(user, "checking whether the generation started", 15)
    wait_for(lambda: bool(stack.jobs(7401)[0]["submit_ambiguous_at"]), 10, "recorded")
    if stack.mode == "webhook":
        user.wait_for_message(lambda m: m.media == "photo", 30)
        price = price_of(stack, 7401)
        wait_for(lambda: stack.balance(7401) == (WELCOME - price, 0), 10, "captured once")
    else:
        total, held = stack.balance(7401)
        assert (total, held) == (WELCOME, price_of(stack, 7401))  # held, not taken
    mine = [c for c in stack.kie.create_calls() if "teapot" in c["input"]["prompt"]]
    assert len(mine) == 1  # never resubmitted blindly


def test_maintenance_is_one_sentence_and_the_money_comes_back(stack: Stack) -> None:
    user = stack.user(7501)
    stack.kie.script("maintenance")
    confirm_z_image(user, "a quiet harbour")
    told = final_text(user, "maintenance")
    assert not any(marker in told.body for marker in INTERNALS), told.body
    wait_for(lambda: stack.balance(7501) == (WELCOME, 0), 10, "hold released")


def test_the_next_tap_is_answered_while_createtask_is_slow(stack: Stack) -> None:
    """createTask runs in the job runner, not in the update handler: the chat stays live."""
    user = stack.user(7601)
    stack.kie.script(Outcome("success", create_delay=6.0))
    confirm_z_image(user, "a slow one")
    wait_for(
        lambda: any("a slow one" in c["input"]["prompt"] for c in stack.kie.create_calls()),
        5,
        "createTask under way",
    )
    before = user.last_message()
    user.send_command("/start")
    menu = user.wait_for_message(
        lambda m: "m:help" in m.callback_data,
        timeout=2.0,
        after=before.message_id if before else None,
    )
    press_and_wait(user, "m:help", timeout=2.0, message_id=menu.message_id)
    assert not any(m.media for m in user.messages())  # createTask had not answered yet
    user.wait_for_message(lambda m: m.media == "photo", 40)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_a_lost_createtask_answer_ends_in_minutes_with_the_money_back(
    mode: str, pg_url: str, tmp_path: Path
) -> None:
    """createTask answered 502 and no task exists: the user hears at once that it is being
    checked, and after the category's wait (seconds here, from the catalog's own data) that
    it was stopped, with the hold released."""
    for path in DEFAULT_DIR.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    times = (tmp_path / "categories.toml").read_text()
    (tmp_path / "categories.toml").write_text(
        times.replace("unconfirmed_minutes = 3", "unconfirmed_minutes = 0.1")
    )
    stack = Stack(mode, pg_url, CATALOG_DIR=str(tmp_path))
    try:
        stack.start()
        stack.kie.script(Outcome("create_502", created=False))
        user = stack.user(7701)
        confirm_z_image(user, "a castle in the clouds")
        checking = final_text(user, "checking whether the generation started", 15)
        told = final_text(user, "never confirmed the task", 30)
        assert told.message_id == checking.message_id  # the same message, edited in place
        assert "returned to your balance" in told.body
        wait_for(lambda: stack.balance(7701) == (WELCOME, 0), 10, "hold released")
        [job] = stack.jobs(7701)
        assert (job["status"], job["failure"]) == ("failed", "unconfirmed")
        assert len(stack.kie.create_calls()) == 1
    finally:
        stack.close()


@pytest.mark.parametrize("mode", ["webhook"], scope="module")  # callbacks need a public URL
def test_a_callback_for_another_task_is_refused_with_409(stack: Stack) -> None:
    """The right token with a task id that is not the job's: visible to Kie.ai's retries."""
    user = stack.user(7801)
    confirm_z_image(user, "a paper boat")
    user.wait_for_message(lambda m: m.media == "photo", 30)
    wait_for(lambda: stack.jobs(7801)[0]["status"] == "delivered", 10, "delivered")
    [job] = stack.jobs(7801)
    assert stack.bot is not None
    url = f"{stack.bot.base}/kie/callback/{job['id']}/{job['callback_token']}"
    body = {"code": 200, "msg": "ok", "data": {"taskId": "someone-elses-task", "state": "fail"}}
    status, _ = http("POST", url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert status == 409
    right = {"code": 200, "msg": "ok", "data": {"taskId": job["task_id"], "state": "success"}}
    status, _ = http("POST", url, json.dumps(right).encode(), {"Content-Type": "application/json"})
    assert status == 200  # a duplicate of the real task's callback is fine
    assert stack.jobs(7801)[0]["status"] == "delivered"
    assert stack.ledger_kinds(7801).count("capture") == 1
