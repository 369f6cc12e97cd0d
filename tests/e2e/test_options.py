"""The wizard's option steps through the real dispatcher: every enum, switch and number of a
model's schema is asked with buttons in the user's language, priced where it changes the
price; typed numbers are checked against the bounds; back, default, skip and stale buttons."""

from __future__ import annotations

from decimal import Decimal

from adapters.catalog.loader import load_catalog
from adapters.telegram.i18n import Translator
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import USER, last_markup_data
from tests.fakes.updates import callback, message


def texts(harness: BotHarness) -> str:
    return harness.api.texts()[-1]


def option_data(harness: BotHarness, label: str) -> str:
    """The callback data of the option button whose text contains ``label``."""
    for request in reversed(harness.api.requests):
        markup = getattr(request, "reply_markup", None)
        if markup is not None:
            for row in markup.inline_keyboard:
                for button in row:
                    if label in button.text:
                        return str(button.callback_data)
            break
    raise AssertionError(f"no button {label!r} in {last_markup_data(harness)}")


def button_texts(harness: BotHarness) -> list[str]:
    for request in reversed(harness.api.requests):
        markup = getattr(request, "reply_markup", None)
        if markup is not None:
            return [b.text for row in markup.inline_keyboard for b in row]
    return []


async def open_kling(harness: BotHarness, prompt: str = "a fox running through snow") -> None:
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "c:video"))
    await harness.feed(callback(USER, "md:kling-2-6-t2v"))
    await harness.feed(message(USER, prompt))


async def test_each_option_is_asked_with_prices_where_they_differ_and_reaches_the_job() -> None:
    harness = BotHarness(welcome_balance=100_000)
    await open_kling(harness)
    assert texts(harness).startswith("⚙ Kling 2.6, option 1 of 3: Aspect ratio\nNow: 16:9")
    # The aspect ratio does not change the price: plain labels, the current one marked.
    assert button_texts(harness)[:3] == ["• 16:9", "9:16", "1:1"]
    await harness.feed(callback(USER, option_data(harness, "9:16")))

    assert texts(harness).startswith("⚙ Kling 2.6, option 2 of 3: Duration, s")
    assert button_texts(harness)[:2] == ["• 5 · 52.25 RUB", "10 · 104.50 RUB"]
    await harness.feed(callback(USER, option_data(harness, "10 ·")))

    assert texts(harness).startswith("⚙ Kling 2.6, option 3 of 3: Sound")
    assert button_texts(harness)[:2] == ["• off · 104.50 RUB", "on · 209.00 RUB"]
    await harness.feed(callback(USER, option_data(harness, "on ·")))

    confirmation = texts(harness)
    assert "Aspect ratio: 9:16" in confirmation
    assert "Duration, s: 10" in confirmation
    assert "Sound: on" in confirmation
    assert "Price: 209.00 RUB" in confirmation
    assert "(default)" not in confirmation
    [confirm] = [d for d in last_markup_data(harness) if d.startswith("cf:")]
    await harness.feed(callback(USER, confirm))
    [job] = harness.storage.jobs.values()
    assert dict(job.params) == {
        "prompt": "a fox running through snow",
        "aspect_ratio": "9:16",
        "duration": "10",
        "sound": True,
    }
    assert job.price == 20_900


async def test_back_returns_to_the_previous_option_and_then_to_the_model_card(
    harness: BotHarness,
) -> None:
    await open_kling(harness)
    await harness.feed(callback(USER, option_data(harness, "1:1")))
    await harness.feed(callback(USER, "o:1:back:0"))
    assert texts(harness).startswith("⚙ Kling 2.6, option 1 of 3: Aspect ratio\nNow: 1:1")
    await harness.feed(callback(USER, "o:0:back:0"))
    assert texts(harness).startswith("Kling 2.6\n")
    assert "Send a text prompt for Kling 2.6" in texts(harness)


async def test_default_and_skip_take_the_schema_defaults(harness: BotHarness) -> None:
    await open_kling(harness)
    await harness.feed(callback(USER, option_data(harness, "1:1")))
    await harness.feed(callback(USER, "o:1:skip:0"))
    confirmation = texts(harness)
    assert "Aspect ratio: 1:1\n" in confirmation
    assert "Duration, s: 5 (default)" in confirmation
    assert "Sound: off (default)" in confirmation
    assert "Price: 52.25 RUB" in confirmation

    await harness.feed(callback(USER, "w:options"))  # change them from the confirmation
    assert texts(harness).startswith("⚙ Kling 2.6, option 1 of 3")
    await harness.feed(callback(USER, "o:0:default:0"))
    await harness.feed(callback(USER, "o:1:skip:0"))
    assert "Aspect ratio: 16:9 (default)" in texts(harness)


async def test_a_button_of_another_step_changes_nothing(harness: BotHarness) -> None:
    await open_kling(harness)
    await harness.feed(callback(USER, option_data(harness, "9:16")))
    before = await harness.container.database.fsm_storage().get_data(key=fsm_key())
    await harness.feed(callback(USER, "o:0:pick:2"))  # the first step's button, pressed late
    await harness.feed(callback(USER, "o:1:pick:9"))  # a choice that does not exist
    assert texts(harness) == "This button is out of date. Here is the menu."
    after = await harness.container.database.fsm_storage().get_data(key=fsm_key())
    assert after == before
    assert after["params"]["aspect_ratio"] == "9:16"


async def test_typed_numbers_are_checked_against_the_bounds(harness: BotHarness) -> None:
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "md:elevenlabs-tts"))
    await harness.feed(message(USER, "Hello there."))
    await harness.feed(callback(USER, "o:0:default:0"))  # the voice
    assert texts(harness).startswith("⚙ ElevenLabs Speech, option 2 of 4: Stability")
    assert "send a number from 0 to 1" in texts(harness)
    assert button_texts(harness)[:5] == ["0", "0.25", "• 0.5", "0.75", "1"]
    await harness.feed(message(USER, "5"))
    assert texts(harness) == "Send a number from 0 to 1, or pick a button."
    await harness.feed(message(USER, "0,8"))
    assert texts(harness).startswith("⚙ ElevenLabs Speech, option 3 of 4: Similarity")
    await harness.feed(callback(USER, "o:2:skip:0"))
    assert "Stability: 0.8\n" in texts(harness)
    assert "Similarity: 0.75 (default)" in texts(harness)
    [confirm] = [d for d in last_markup_data(harness) if d.startswith("cf:")]
    await harness.feed(callback(USER, confirm))
    [job] = harness.storage.jobs.values()
    assert Decimal(str(job.params["stability"])) == Decimal("0.8")
    assert "similarity_boost" in job.params  # defaults are applied at confirmation


async def test_option_steps_speak_russian(harness: BotHarness) -> None:
    await harness.feed(message(USER, "/start", lang="ru"))
    await harness.feed(callback(USER, "md:kling-2-6-t2v", lang="ru"))
    await harness.feed(message(USER, "лиса в снегу", lang="ru"))
    assert texts(harness).startswith("⚙ Kling 2.6, параметр 1 из 3: Соотношение сторон")
    await harness.feed(callback(USER, "o:0:skip:0", lang="ru"))
    assert "Звук: выкл. (по умолчанию)" in texts(harness)


def fsm_key():  # type: ignore[no-untyped-def]
    from aiogram.fsm.storage.base import StorageKey

    from tests.fakes.telegram import BOT_USER

    return StorageKey(bot_id=BOT_USER["id"], chat_id=USER, user_id=USER)


def test_every_parameter_of_the_catalog_has_a_name_in_every_language() -> None:
    translator = Translator()
    catalog = load_catalog()
    names = {p.name for m in catalog.models for p in m.params}
    for lang in translator.languages:
        missing = sorted(n for n in names if f"param-{n}" not in translator.keys(lang))
        assert missing == [], lang


async def test_the_result_caption_names_the_options_that_differ_from_the_defaults(
    harness: BotHarness,
) -> None:
    from aiogram.methods import SendPhoto

    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "md:z-image"))
    await harness.feed(message(USER, "a red fox"))
    await harness.feed(callback(USER, option_data(harness, "16:9")))
    [confirm] = [d for d in last_markup_data(harness) if d.startswith("cf:")]
    await harness.feed(callback(USER, confirm))
    await harness.run_jobs()
    harness.clock.advance(seconds=5)
    await harness.reconcile()
    await harness.run_jobs()
    [photo] = harness.api.sent(SendPhoto)
    assert photo.caption == "Z-Image · 0.76 RUB\nAspect ratio: 16:9"


async def test_the_confirmation_says_how_long_the_model_usually_takes(harness: BotHarness) -> None:
    await open_kling(harness)
    await harness.feed(callback(USER, "o:0:skip:0"))
    assert "Usually ready in about 4 min." in texts(harness)
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "md:z-image"))
    await harness.feed(message(USER, "a red fox"))
    await harness.feed(callback(USER, "o:0:skip:0"))
    assert "Usually ready in about 30 s." in texts(harness)
