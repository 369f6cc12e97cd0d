"""The wizard, history and repeat through the real process: a restart between two option
steps loses nothing, and history and repeat work in Russian as well as in English."""

from __future__ import annotations

from tests.fakes.tg_user import BotMessage, TgUser
from tests.fakes.waiting import wait_for
from tests.wire.stack import Stack, is_confirmation, press_and_wait
from tests.wire.test_generation import confirm_z_image


def press_on(user: TgUser, message: BotMessage, data: str) -> None:
    press_and_wait(user, data, message_id=message.message_id)


def test_a_restart_between_two_option_steps_continues_where_the_user_was(stack: Stack) -> None:
    user = stack.user(7501)
    user.send_command("/start")
    user.wait_for_message(lambda m: "c:video" in m.callback_data)
    press_and_wait(user, "c:video")
    user.wait_for_message(lambda m: "md:kling-2-6-t2v" in m.callback_data)
    press_and_wait(user, "md:kling-2-6-t2v")
    user.wait_for_message(lambda m: "Kling 2.6" in m.body and "x" in m.callback_data)
    user.send_text("a fox running through the snow")
    step = user.wait_for_message(lambda m: "o:0:pick:1" in m.callback_data)
    assert "option 1 of 3: Aspect ratio" in step.body
    press_on(user, step, "o:0:pick:1")  # 9:16
    step = user.wait_for_message(lambda m: "o:1:pick:0" in m.callback_data)
    assert "option 2 of 3: Duration, s" in step.body

    stack.restart()  # the wizard's state is in PostgreSQL, not in the process

    press_on(user, step, "o:1:pick:0")  # 5 s
    step = user.wait_for_message(lambda m: "o:2:skip:0" in m.callback_data)
    assert "option 3 of 3: Sound" in step.body
    press_on(user, step, "o:2:skip:0")
    confirmation = user.wait_for_message(is_confirmation)
    assert "Aspect ratio: 9:16" in confirmation.body
    assert "Duration, s: 5" in confirmation.body
    assert "Sound: off (default)" in confirmation.body
    [data] = [d for d in confirmation.callback_data if d.startswith("cf:")]
    press_on(user, confirmation, data)
    wait_for(lambda: bool(stack.jobs(7501)), 10, "a job row")
    [job] = stack.jobs(7501)
    assert (job["params"]["aspect_ratio"], job["params"]["duration"]) == ("9:16", "5")
    assert job["price"] == 5_225


def test_history_and_repeat_in_russian(stack: Stack) -> None:
    user = stack.user(7601, lang="ru")
    confirm_z_image(user, "рыжая лиса в снегу")
    result = user.wait_for_message(lambda m: m.media == "photo", 30)
    [first] = stack.jobs(7601)
    assert f"r:{first['id']}" in result.callback_data  # Repeat under the result
    wait_for(lambda: stack.jobs(7601)[0]["status"] == "delivered", 10, "delivered")

    user.send_command("/history")
    history = user.wait_for_message(lambda m: m.body.startswith("Ваши генерации"))
    assert "1. ✅ Z-Image" in history.body
    press_on(user, history, f"r:{first['id']}")
    confirmation = user.wait_for_message(
        lambda m: (
            is_confirmation(m) and "рыжая лиса" in m.body and m.message_id == history.message_id
        )
    )
    assert "Запрос: рыжая лиса в снегу" in confirmation.body
    [data] = [d for d in confirmation.callback_data if d.startswith("cf:")]
    press_on(user, confirmation, data)
    wait_for(lambda: len(stack.jobs(7601)) == 2, 10, "the repeated job")
    again = stack.jobs(7601)[1]
    assert again["params"] == first["params"]


def test_the_command_menu_is_set_in_both_languages(stack: Stack) -> None:
    default = '{"type": "default"}'
    wait_for(lambda: (default, "ru") in stack.api.commands, 10, "commands in Russian")
    english = [c["command"] for c in stack.api.commands[(default, "")]]
    assert english == [
        "start",
        "menu",
        "topup",
        "history",
        "balance",
        "free",
        "invite",
        "language",
        "help",
        "paysupport",
        "terms",
    ]
    russian = {c["command"]: c["description"] for c in stack.api.commands[(default, "ru")]}
    assert russian["history"] == "Мои генерации"
    user = stack.user(7701)
    answers = (
        ("/balance", "Balance:"),
        ("/language", "Choose a language"),
        ("/free", "Free today"),
        ("/invite", "Invite friends"),
        ("/help", "Pick a section"),
        ("/menu", "Main menu"),
        ("/history", "No generations yet"),
        ("/topup", "Top up with Telegram Stars"),
        ("/terms", "Terms:"),
    )
    for command, fragment in answers:
        user.send_command(command)
        user.wait_for_message(lambda m, f=fragment: f in m.body)


def test_cancel_after_kie_has_the_job_says_why_and_the_job_runs_on(stack: Stack) -> None:
    from tests.fakes.kie_server import Outcome

    stack.kie.script(Outcome(hold=True))
    user = stack.user(7801)
    confirm_z_image(user, "a fox that takes its time")
    progress = user.wait_for_message(lambda m: any(d.startswith("jx:") for d in m.callback_data))
    [cancel] = [d for d in progress.callback_data if d.startswith("jx:")]
    wait_for(lambda: stack.jobs(7801)[0]["status"] == "submitted", 10, "submitted")
    update = user.press(cancel, message_id=progress.message_id)
    answer = user.wait_for_answer(update)
    assert answer.show_alert is True
    assert (answer.text or "").startswith("Kie.ai is already generating this")
    [job] = stack.jobs(7801)
    assert job["status"] == "submitted"
    assert stack.balance(7801)[1] == job["price"]  # still held, charged only on delivery
    stack.kie.finish(job["task_id"])
    user.wait_for_message(lambda m: m.media == "photo", 30)
    wait_for(lambda: stack.jobs(7801)[0]["status"] == "delivered", 10, "delivered")
