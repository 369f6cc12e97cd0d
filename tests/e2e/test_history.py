"""History and Repeat through the real dispatcher: the user's own jobs, newest first, paged;
Repeat opens a new confirmation at today's price and starts a job only once confirmed."""

from __future__ import annotations

from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage

from core.domain.jobs import JobStatus
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import last_markup_data, open_confirmation
from tests.fakes.updates import callback, message

USER = 501
OTHER = 502


async def delivered(harness: BotHarness, prompt: str) -> str:
    """A generation from /start to the chat; returns its job id."""
    before = set(harness.storage.jobs)
    confirm = await open_confirmation(harness, prompt)
    await harness.feed(callback(USER, confirm))
    [job_id] = set(harness.storage.jobs) - before
    await harness.run_jobs()
    harness.clock.advance(seconds=5)
    await harness.reconcile()
    await harness.run_jobs()
    assert harness.storage.jobs[job_id].status is JobStatus.DELIVERED
    return job_id


def last_text(harness: BotHarness) -> str:
    for request in reversed(harness.api.requests):
        if isinstance(request, (SendMessage, EditMessageText)):
            return str(request.text)
    raise AssertionError("nothing was said")


async def test_history_lists_a_delivered_job_and_repeat_starts_a_new_one(
    harness: BotHarness,
) -> None:
    first = await delivered(harness, "a red fox in the snow")
    await harness.feed(callback(USER, "m:history"))
    text = last_text(harness)
    assert text.splitlines()[0] == "Your generations (newest first):"
    assert "1. ✅ Z-Image · 0.76 RUB ·" in text
    assert f"r:{first}" in last_markup_data(harness)

    await harness.feed(callback(USER, f"r:{first}"))
    confirmation = last_text(harness)
    assert "Prompt: a red fox in the snow" in confirmation
    assert "Price: 0.76 RUB" in confirmation
    assert len(harness.storage.jobs) == 1  # nothing is held before the confirmation
    [confirm] = [d for d in last_markup_data(harness) if d.startswith("cf:")]

    await harness.feed(callback(USER, confirm))
    await harness.feed(callback(USER, confirm))  # a double tap starts one job
    again = [j for j in harness.storage.jobs.values() if j.id != first]
    assert len(again) == 1
    assert dict(again[0].params) == dict(harness.storage.jobs[first].params)
    assert (await harness.storage.balance(USER)).held == 76


async def test_repeat_of_another_users_job_is_refused_and_changes_nothing(
    harness: BotHarness,
) -> None:
    theirs = await delivered(harness, "a secret prompt")
    await harness.feed(message(OTHER, "/start"))
    sent_before = len(harness.api.sent(SendMessage))
    await harness.feed(callback(OTHER, f"r:{theirs}"))
    await harness.feed(callback(OTHER, "r:no-such-job"))
    answers = [r.text for r in harness.api.requests if isinstance(r, AnswerCallbackQuery)]
    assert answers[-2:] == ["This button is out of date. Here is the menu."] * 2
    assert len(harness.api.sent(SendMessage)) == sent_before  # no confirmation for them
    assert "a secret prompt" not in " ".join(harness.api.texts()[-3:])
    assert len(harness.storage.jobs) == 1


async def test_history_pages_newest_first(harness: BotHarness) -> None:
    ids = [await delivered(harness, f"prompt number {i}") for i in range(6)]
    await harness.feed(message(USER, "/history"))
    page0 = last_text(harness)
    assert [line.split(".")[0] for line in page0.splitlines()[2:]] == ["1", "2", "3", "4", "5"]
    data = last_markup_data(harness)
    assert data[:5] == [f"r:{i}" for i in reversed(ids[1:])]
    assert "h:1" in data
    assert "h:0" not in data

    await harness.feed(callback(USER, "h:1"))
    page1 = last_text(harness)
    assert [line.split(".")[0] for line in page1.splitlines()[2:]] == ["6"]
    assert last_markup_data(harness)[0] == f"r:{ids[0]}"
    assert "h:0" in last_markup_data(harness)


async def test_empty_history_says_so_in_the_users_language(harness: BotHarness) -> None:
    await harness.feed(message(USER, "/start", lang="ru"))
    await harness.feed(message(USER, "/history", lang="ru"))
    assert last_text(harness).startswith("Генераций пока нет.")
    assert last_markup_data(harness) == ["m:home"]


async def test_history_command_in_the_middle_of_a_wizard_is_not_taken_as_the_prompt(
    harness: BotHarness,
) -> None:
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, "c:image"))
    await harness.feed(callback(USER, "md:z-image"))
    await harness.feed(message(USER, "/history"))
    assert last_text(harness).startswith("No generations yet.")
    assert not any(d.startswith("cf:") for d in last_markup_data(harness))
