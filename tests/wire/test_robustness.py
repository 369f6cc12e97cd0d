"""What must not stop the bot: a poison update, a failing setWebhook at boot, number options."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.waiting import wait_for
from tests.wire.stack import Stack, newest, press_and_wait


def test_a_poison_update_is_parked_while_every_other_update_flows(stack: Stack) -> None:
    first, second = stack.user(5201), stack.user(5202)
    poison = stack.api.push_update(
        {"message": {"message_id": 1, "date": "yesterday", "chat": {"id": 5201}, "text": 7}}
    )
    first.send_command("/start")
    second.send_command("/start")
    first.wait_for_message(lambda m: bool(m.callback_data))
    second.wait_for_message(lambda m: bool(m.callback_data))
    wait_for(
        lambda: bool(
            stack.query(
                "SELECT 1 FROM update_inbox WHERE update_id = %s AND parked_at IS NOT NULL",
                poison["update_id"],
            )
        ),
        10,
        "the poison update parked",
    )
    [(attempts, error)] = stack.query(
        "SELECT attempts, last_error FROM update_inbox WHERE update_id = %s", poison["update_id"]
    )
    assert attempts == 1  # never retried: it can never parse
    assert "malformed update" in error
    # The chat the poison claimed to belong to is not blocked behind it.
    press_and_wait(first, "m:help")


def test_number_options_reach_the_confirmation_and_the_job(stack: Stack) -> None:
    """ElevenLabs' stability/speed are Decimals: a typed one and the defaults go through the
    wizard state and jobs.params as numbers."""
    user = stack.user(5301)
    user.send_command("/start")
    user.wait_for_message(lambda m: "c:audio" in m.callback_data)
    press_and_wait(user, "c:audio")
    user.wait_for_message(lambda m: "md:elevenlabs-tts" in m.callback_data)
    press_and_wait(user, "md:elevenlabs-tts")
    user.wait_for_message(lambda m: "ElevenLabs" in m.body and "x" in m.callback_data)
    user.send_text("Hello from the over-the-wire test.")
    voice = user.wait_for_message(lambda m: "o:0:default:0" in m.callback_data)
    press_and_wait(user, "o:0:default:0", message_id=voice.message_id)
    user.wait_for_message(lambda m: "o:1:skip:0" in m.callback_data)
    user.send_text("0.8")
    step = user.wait_for_message(lambda m: "o:2:skip:0" in m.callback_data)
    press_and_wait(user, "o:2:skip:0", message_id=step.message_id)
    confirm = user.wait_for_message(lambda m: any(d.startswith("cf:") for d in m.callback_data))
    assert "Stability: 0.8" in confirm.body
    assert "Speed: 1 (default)" in confirm.body
    [data] = [d for d in confirm.callback_data if d.startswith("cf:")]
    press_and_wait(user, data, message_id=confirm.message_id)
    wait_for(lambda: bool(stack.jobs(5301)), 10, "a job row")
    [job] = stack.jobs(5301)
    params = job["params"]
    assert Decimal(str(params["stability"])) == Decimal("0.8")
    assert Decimal(str(params["speed"])) == Decimal("1")
    assert "not JSON serializable" not in stack.output()
    assert newest(user) is not None


@pytest.mark.parametrize("mode", ["webhook"])
def test_set_webhook_failing_at_boot_is_retried_and_reported(mode: str, pg_url: str) -> None:
    stack = Stack(mode, pg_url)
    stack.api.fail("setWebhook", count=2, status=502)
    try:
        stack.start()  # waits until the webhook is set: only the retries can set it
        wait_for(lambda: stack.health()["duties"].get("set_webhook") == "done", 5, "done")
        duties = stack.health()["duties"]
        assert duties["reconcile"] == "running"
        assert len(stack.api.called("setWebhook")) == 3
        assert stack.output().count("duty set_webhook failed") == 2
        user = stack.user(5401)
        user.send_command("/start")
        user.wait_for_message(lambda m: bool(m.callback_data))
    finally:
        stack.close()


def test_switching_from_webhook_to_polling_deletes_the_webhook_and_keeps_updates(
    pg_url: str,
) -> None:
    stack = Stack("webhook", pg_url)
    try:
        stack.start()
        assert stack.api.webhook_info()["url"]
        stack.stop_bot()
        user = stack.user(5501)
        user.send_command("/start")  # pending with Telegram: nothing listens at the webhook
        stack.mode = "polling"
        stack.start()
        user.wait_for_message(lambda m: bool(m.callback_data), 15)
        assert stack.api.webhook_info()["url"] == ""
        [delete] = stack.api.called("deleteWebhook")
        assert delete.get("drop_pending_updates") in (None, False, "false", "False")
        assert "deleting it, keeping the pending updates" in stack.output()
    finally:
        stack.close()
