"""Cancel under the progress message: a queued job ends at once with its hold released; once
Kie.ai has it, the button says why it can no longer stop it; someone else's job is refused."""

from __future__ import annotations

from aiogram.methods import AnswerCallbackQuery, EditMessageText

from core.domain.jobs import JobStatus
from core.domain.ledger import EntryKind
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import USER, open_confirmation
from tests.fakes.updates import callback, message


async def confirmed(harness: BotHarness) -> str:
    confirm = await open_confirmation(harness, "a red fox in the snow")
    await harness.feed(callback(USER, confirm))
    [job] = harness.storage.jobs.values()
    return job.id


def answers(harness: BotHarness) -> list[tuple[str | None, bool | None]]:
    return [
        (r.text, r.show_alert) for r in harness.api.requests if isinstance(r, AnswerCallbackQuery)
    ]


async def test_cancel_while_queued_releases_the_hold_at_once_and_nothing_is_submitted(
    harness: BotHarness,
) -> None:
    job_id = await confirmed(harness)
    assert (await harness.storage.balance(USER)).held == 76
    await harness.feed(callback(USER, f"jx:{job_id}"))
    await harness.feed(callback(USER, f"jx:{job_id}"))  # a second tap changes nothing

    job = harness.storage.jobs[job_id]
    assert job.status is JobStatus.CANCELLED
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000, 0)
    releases = [e for e in harness.storage.ledger if e.kind is EntryKind.RELEASE]
    assert len(releases) == 1
    edits = [r for r in harness.api.requests if isinstance(r, EditMessageText)]
    assert edits[-1].text == "✖ Z-Image: cancelled. 0.76 RUB returned to your balance."
    assert edits[-1].message_id == job.progress_message_id
    assert answers(harness)[-2:] == [
        ("Cancelled.", None),
        ("This button is out of date. Here is the menu.", None),
    ]
    assert await harness.run_jobs() == 0  # the runner finds nothing to submit


async def test_after_submission_cancel_says_why_it_cannot_and_the_job_runs_on(
    harness: BotHarness,
) -> None:
    job_id = await confirmed(harness)
    assert await harness.run_jobs() == 1  # submitted to Kie.ai (the stub)
    edits = [r.text for r in harness.api.requests if isinstance(r, EditMessageText)]
    assert edits[-1] == "⏳ Z-Image: generating…"  # the Cancel button is gone with it
    await harness.feed(callback(USER, f"jx:{job_id}"))
    text, alert = answers(harness)[-1]
    assert alert is True
    assert text is not None
    assert text.startswith("Kie.ai is already generating this")
    assert harness.storage.jobs[job_id].status is JobStatus.SUBMITTED
    assert (await harness.storage.balance(USER)).held == 76


async def test_nobody_cancels_another_users_job(harness: BotHarness) -> None:
    job_id = await confirmed(harness)
    await harness.feed(message(USER + 1, "/start"))
    await harness.feed(callback(USER + 1, f"jx:{job_id}"))
    assert answers(harness)[-1] == ("This button is out of date. Here is the menu.", None)
    assert harness.storage.jobs[job_id].status is JobStatus.QUEUED
    assert (await harness.storage.balance(USER)).held == 76
