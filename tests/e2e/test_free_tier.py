"""The free tier through the real dispatcher: the Free screen (/free and the menu button), a
free generation from the screen to the chat, the quota running out, and a failed free job
giving its use back — with the balance read from the ledger, never from what the bot says."""

from __future__ import annotations

from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, SendPhoto

from core.domain.jobs import JobStatus
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import last_markup_data
from tests.fakes.updates import callback, message

USER = 601
FREE_MODEL = "gpt-image-2"
WELCOME = 10_000
PRICE = 285  # GPT Image 2: 3 credits × 0.005 × 95 × 2 = 2.85 RUB


def last_text(harness: BotHarness) -> str:
    for request in reversed(harness.api.requests):
        if isinstance(request, (SendMessage, EditMessageText)):
            return str(request.text)
    raise AssertionError("nothing was said")


async def open_free_confirmation(harness: BotHarness, prompt: str) -> str:
    """/start → 🎁 Free today → GPT Image 2 → prompt (→ skip the options); returns the
    confirmation's button."""
    await harness.feed(message(USER, "/start"))
    assert "m:free" in last_markup_data(harness)
    await harness.feed(callback(USER, "m:free"))
    assert f"md:{FREE_MODEL}" in last_markup_data(harness)
    await harness.feed(callback(USER, f"md:{FREE_MODEL}"))
    await harness.feed(message(USER, prompt))
    skip = [d for d in last_markup_data(harness) if d.startswith("o:") and ":skip" in d]
    if skip:  # the wizard asks the model's options: keep the defaults
        await harness.feed(callback(USER, skip[0]))
    [confirm] = [d for d in last_markup_data(harness) if d.startswith("cf:")]
    return confirm


async def generate(harness: BotHarness) -> None:
    await harness.run_jobs()
    harness.clock.advance(seconds=5)
    await harness.reconcile()
    await harness.run_jobs()


async def money(harness: BotHarness) -> tuple[int, int]:
    balance = await harness.storage.balance(USER)
    return balance.total, balance.held


async def test_the_free_screen_says_what_is_left_and_lists_the_free_models() -> None:
    harness = BotHarness()
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "m:free"))
    edit = harness.api.sent(EditMessageText)[-1]
    assert edit.text == (
        "🎁 Free today\n\n"
        "3 of 3 free generations left today, refills at 00:00 UTC.\n\n"
        "Free models:"
    )
    assert last_markup_data(harness) == [f"md:{FREE_MODEL}", "m:home"]
    await harness.feed(message(USER, "/free"))
    assert harness.api.sent(SendMessage)[-1].text == edit.text


async def test_the_free_screen_speaks_russian() -> None:
    harness = BotHarness()
    await harness.feed(message(USER, "/free", lang="ru"))
    text = harness.api.sent(SendMessage)[-1].text
    assert "Сегодня осталось 3 из 3 бесплатных генераций. Лимит обновится в 00:00 UTC." in text
    assert last_markup_data(harness) == [f"md:{FREE_MODEL}", "m:home"]


async def test_a_free_generation_is_delivered_and_the_balance_is_unchanged() -> None:
    harness = BotHarness()
    confirm = await open_free_confirmation(harness, "a lighthouse at dusk")
    assert "Price: 0.00 RUB" in last_text(harness)
    assert "Balance after: 100.00 RUB" in last_text(harness)

    await harness.feed(callback(USER, confirm))
    await harness.feed(callback(USER, confirm))  # a double tap
    [job] = harness.storage.jobs.values()
    assert job.price == 0
    assert len(harness.storage.free_uses) == 1
    assert await money(harness) == (WELCOME, 0)

    await generate(harness)
    assert harness.storage.jobs[job.id].status is JobStatus.DELIVERED
    assert len(harness.api.sent(SendPhoto)) == 1
    assert await money(harness) == (WELCOME, 0)
    await harness.feed(message(USER, "/free"))
    assert "2 of 3 free generations left today" in last_text(harness)


async def test_once_the_quota_is_used_up_the_free_model_costs_its_price() -> None:
    harness = BotHarness(free_daily_quota=1)
    await harness.feed(callback(USER, await open_free_confirmation(harness, "first")))
    await generate(harness)

    confirm = await open_free_confirmation(harness, "second")
    assert "Price: 2.85 RUB" in last_text(harness)
    await harness.feed(callback(USER, confirm))
    paid = [j for j in harness.storage.jobs.values() if j.price > 0]
    assert [j.price for j in paid] == [PRICE]
    assert await money(harness) == (WELCOME, PRICE)
    await harness.feed(message(USER, "/free"))
    assert last_text(harness).splitlines()[2:4] == [
        "0 of 1 free generation left today, refills at 00:00 UTC.",
        "Until then the free models cost their usual price.",
    ]


async def test_a_failed_free_generation_gives_the_use_back() -> None:
    harness = BotHarness(free_daily_quota=1)
    await harness.feed(callback(USER, await open_free_confirmation(harness, "a cat #fail")))
    await generate(harness)
    [job] = harness.storage.jobs.values()
    assert harness.storage.jobs[job.id].status is JobStatus.FAILED
    assert await money(harness) == (WELCOME, 0)
    told = [t for t in harness.api.texts() if t.startswith("❌ GPT Image 2")]
    assert told == [
        "❌ GPT Image 2: the generation failed on Kie.ai's side. "
        "Your free generation was given back."
    ]
    await harness.feed(message(USER, "/free"))
    assert "1 of 1 free generation left today" in last_text(harness)
    await open_free_confirmation(harness, "a cat, again")
    assert "Price: 0.00 RUB" in last_text(harness)


async def test_with_a_zero_quota_the_screen_offers_nothing() -> None:
    harness = BotHarness(free_daily_quota=0)
    await harness.feed(message(USER, "/free"))
    assert last_text(harness) == "There are no free generations at the moment."
    assert last_markup_data(harness) == ["m:home"]
    await assert_the_free_model_is_paid(harness)


async def assert_the_free_model_is_paid(harness: BotHarness) -> None:
    """With the tier off, the free model is an ordinary paid one."""
    await harness.feed(callback(USER, f"md:{FREE_MODEL}"))
    await harness.feed(message(USER, "a boat"))
    skip = [d for d in last_markup_data(harness) if d.startswith("o:") and ":skip" in d]
    if skip:
        await harness.feed(callback(USER, skip[0]))
    assert "Price: 2.85 RUB" in last_text(harness)


async def test_free_in_the_middle_of_the_wizard_is_the_screen_not_a_prompt() -> None:
    harness = BotHarness()
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, f"md:{FREE_MODEL}"))
    await harness.feed(message(USER, "/free"))
    assert "3 of 3 free generations left today" in last_text(harness)
    assert not any(d.startswith(("cf:", "o:")) for d in last_markup_data(harness))
    assert harness.storage.jobs == {}
    assert harness.storage.free_uses == {}


async def test_a_forged_free_button_changes_nothing() -> None:
    harness = BotHarness()
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "m:free:extra"))
    answers = [r.text for r in harness.api.requests if isinstance(r, AnswerCallbackQuery)]
    assert answers[-1] == "This button is out of date. Here is the menu."
    assert harness.storage.jobs == {}
    assert harness.storage.free_uses == {}


async def test_a_confirmation_shown_free_is_never_charged_when_the_free_use_went_elsewhere() -> (
    None
):
    from tests.e2e.test_generation_flow import USER as ME
    from tests.e2e.test_generation_flow import last_markup_data, skip_options

    harness = BotHarness(free_daily_quota=1)
    await harness.feed(message(ME, "/start"))
    await harness.feed(callback(ME, "md:gpt-image-2"))
    await harness.feed(message(ME, "a lighthouse at dawn"))
    await skip_options(harness)
    assert "Price: 0.00 RUB" in harness.api.texts()[-1]
    [shown_free] = [d for d in last_markup_data(harness) if d.startswith("cf:")]

    # The day's free use is taken by another confirmation meanwhile (another screen).
    await harness.container.usecases.confirm()(
        confirm_key="elsewhere",
        user_id=ME,
        chat_id=ME,
        lang="en",
        model_id="gpt-image-2",
        params={"prompt": "another screen"},
    )
    await harness.feed(callback(ME, shown_free))
    assert len(harness.storage.jobs) == 1  # nothing charged behind the user's back
    assert "Price: 2.85 RUB" in harness.api.texts()[-1]
    assert (await harness.storage.balance(ME)).held == 0
    [priced] = [d for d in last_markup_data(harness) if d.startswith("cf:")]
    await harness.feed(callback(ME, priced))
    assert len(harness.storage.jobs) == 2
    assert (await harness.storage.balance(ME)).held == 285
