"""The whole polling flow through aiogram's dispatcher with real Update payloads."""

from __future__ import annotations

from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageText,
    SendMessage,
    SendPhoto,
)

from core.domain.jobs import JobStatus
from tests.conftest import BotHarness
from tests.fakes.updates import callback, message

USER = 501


def last_markup_data(harness: BotHarness) -> list[str]:
    for request in reversed(harness.api.requests):
        markup = getattr(request, "reply_markup", None)
        if markup is not None:
            return [b.callback_data for row in markup.inline_keyboard for b in row]
    return []


async def skip_options(harness: BotHarness, user: int = USER) -> None:
    """Take the defaults of every option step the wizard asks, if it asks any."""
    skip = [d for d in last_markup_data(harness) if d.startswith("o:") and ":skip" in d]
    if skip:
        await harness.feed(callback(user, skip[0]))


async def open_confirmation(harness: BotHarness, prompt: str, model: str = "z-image") -> str:
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "c:image"))
    assert f"md:{model}" in last_markup_data(harness)
    await harness.feed(callback(USER, f"md:{model}"))
    await harness.feed(message(USER, prompt))
    await skip_options(harness)
    confirm = [d for d in last_markup_data(harness) if d.startswith("cf:")]
    assert len(confirm) == 1, harness.api.texts()[-1]
    return confirm[0]


async def test_start_to_delivered_image_reduces_balance_by_price(harness: BotHarness) -> None:
    confirm = await open_confirmation(harness, "a red fox in the snow")
    confirmation = harness.api.texts()[-1]
    assert "Aspect ratio: 1:1 (default)" in confirmation
    assert "aspect_ratio" not in confirmation
    assert "Price: 0.76 RUB" in confirmation
    assert "Balance after: 99.24 RUB" in confirmation

    await harness.feed(callback(USER, confirm))
    await harness.feed(callback(USER, confirm))  # a double tap

    jobs = list(harness.storage.jobs.values())
    assert len(jobs) == 1
    assert jobs[0].status is JobStatus.QUEUED  # the handler never waits for the provider
    assert (await harness.storage.balance(USER)).held == 76
    answers = [r.text for r in harness.api.requests if isinstance(r, AnswerCallbackQuery)]
    assert "This generation has already started." in answers
    assert "⏳ Z-Image: in the queue…" in harness.api.texts()
    waiting = [r for r in harness.api.sent(SendMessage) if r.text == "⏳ Z-Image: in the queue…"]
    cancel = [b.callback_data for row in waiting[0].reply_markup.inline_keyboard for b in row]
    assert cancel == [f"jx:{jobs[0].id}"]

    assert await harness.run_jobs() == 1
    assert harness.storage.jobs[jobs[0].id].status is JobStatus.SUBMITTED
    harness.clock.advance(seconds=5)
    assert (await harness.reconcile()).polled == 1
    assert harness.api.sent(SendPhoto) == []
    assert (await harness.storage.balance(USER)).held == 76  # produced, not delivered yet

    assert await harness.run_jobs() == 1

    photos = harness.api.sent(SendPhoto)
    assert len(photos) == 1
    assert photos[0].chat_id == USER
    assert photos[0].caption == "Z-Image · 0.76 RUB"
    assert photos[0].photo.data.startswith(b"\x89PNG")
    edits = [r.text for r in harness.api.requests if isinstance(r, EditMessageText)]
    assert edits[-1] == "⏳ Z-Image: ready, fetching the result…"
    # The result carries the next step; the progress message, which would only repeat its
    # caption, is gone.
    buttons = [b for row in photos[0].reply_markup.inline_keyboard for b in row]
    assert [b.text for b in buttons] == ["🔁 Repeat", "✨ New"]
    assert buttons[0].callback_data == f"r:{jobs[0].id}"
    [deleted] = harness.api.sent(DeleteMessage)
    assert deleted.message_id == harness.storage.jobs[jobs[0].id].progress_message_id
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000 - 76, 0)
    assert harness.storage.jobs[jobs[0].id].status is JobStatus.DELIVERED


async def test_failed_generation_returns_the_hold_and_tells_the_user(
    harness: BotHarness,
) -> None:
    confirm = await open_confirmation(harness, "please #fail now")
    await harness.feed(callback(USER, confirm))
    await harness.run_jobs()
    harness.clock.advance(seconds=5)
    await harness.reconcile()

    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000, 0)
    assert harness.api.sent(SendPhoto) == []
    assert harness.api.texts()[-1] == (
        "❌ Z-Image: the generation failed on Kie.ai's side. 0.76 RUB returned to your balance."
    )
    assert "stub failure" not in harness.api.texts()[-1]  # the detail goes to the log
    assert last_markup_data(harness) == ["m:home"]  # and a way back to the menu


async def test_russian_failure_text(harness: BotHarness) -> None:
    await harness.feed(message(USER, "/start", lang="ru"))
    confirm = await open_confirmation(harness, "please #fail now")
    await harness.feed(callback(USER, confirm))
    await harness.run_jobs()
    harness.clock.advance(seconds=5)
    await harness.reconcile()
    assert harness.api.texts()[-1] == (
        "❌ Z-Image: генерация не удалась на стороне Kie.ai. 0.76 RUB возвращено на баланс."
    )


async def test_short_balance_shows_missing_amount_and_no_confirm_button() -> None:
    harness = BotHarness(welcome_balance=100)
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "md:flux-2-pro"))
    card = harness.api.texts()[-1]
    # Said on the model card, before anything is typed, with the way to the balance.
    assert "Your balance: 1.00 RUB" in card
    assert "Not enough for this model: 3.75 RUB more is needed." in card
    assert "m:balance" in last_markup_data(harness)
    await harness.feed(message(USER, "a lighthouse"))
    await skip_options(harness)

    text = harness.api.texts()[-1]
    assert "Not enough balance: 3.75 RUB missing (available 1.00 RUB)" in text
    assert not [d for d in last_markup_data(harness) if d.startswith("cf:")]
    assert "m:topup" in last_markup_data(harness)


async def test_forged_confirm_button_starts_nothing_and_shows_the_menu(
    harness: BotHarness,
) -> None:
    await open_confirmation(harness, "a cat")
    await harness.feed(callback(USER, "cf:forged-draft"))
    await harness.feed(callback(USER, "md:no-such-model"))
    await harness.feed(callback(USER, "garbage-without-prefix"))

    assert harness.storage.jobs == {}
    assert (await harness.storage.balance(USER)).held == 0
    answers = [r.text for r in harness.api.requests if isinstance(r, AnswerCallbackQuery)]
    assert answers[-3:] == ["This button is out of date. Here is the menu."] * 3


async def test_russian_user_gets_russian_texts(harness: BotHarness) -> None:
    await harness.feed(message(USER, "/start", lang="ru"))
    assert harness.api.sent(SendMessage)[-1].text.startswith("Привет, Ann!")


async def test_balance_screen_shows_available_and_history(harness: BotHarness) -> None:
    confirm = await open_confirmation(harness, "a boat")
    await harness.feed(callback(USER, confirm))
    await harness.feed(callback(USER, "m:balance"))

    text = [r for r in harness.api.requests if isinstance(r, EditMessageText)][-1].text
    assert text.splitlines()[0] == "Balance: 99.24 RUB"
    assert "On hold for running generations: 0.76 RUB" in text
    assert "Generation: -0.76 RUB" in text
    assert "Bonus: 100.00 RUB" in text
