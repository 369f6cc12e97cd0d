"""The progress message under load: at most one edit per gap per chat, the latest waiting
step wins, and a final word drops whatever step was still waiting."""

from __future__ import annotations

import attrs
from aiogram import Bot
from aiogram.methods import EditMessageText, SendMessage

from adapters.catalog.loader import load_catalog
from adapters.telegram.chat import AiogramChat
from adapters.telegram.i18n import Translator
from core.domain.jobs import FailureKind
from core.domain.money import Pricing
from core.ports.chat import Progress
from tests.conftest import TOKEN
from tests.contract.factories import job
from tests.fakes.telegram import FakeBotApi
from tests.fakes.waiting import until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def chat_with(gap: float) -> tuple[AiogramChat, FakeBotApi, Clock]:
    api, clock = FakeBotApi(), Clock()
    chat = AiogramChat(
        Bot(TOKEN, session=api), Translator(), load_catalog(), Pricing(), gap, monotonic=clock
    )
    return chat, api, clock


def edits(api: FakeBotApi) -> list[str]:
    return [str(r.text) for r in api.requests if isinstance(r, EditMessageText)]


async def test_steps_sooner_than_the_gap_wait_and_only_the_latest_is_shown() -> None:
    chat, api, clock = chat_with(gap=0.05)
    started = job("j1", model_id="z-image", chat_id=7, lang="en")
    message_id = await chat.job_started(started)
    shown = attrs.evolve(started, progress_message_id=message_id)
    await chat.job_progress(shown, Progress.SUBMITTED)  # right after the send: held back
    await chat.job_progress(shown, Progress.FETCHING)  # replaces the one that waited
    assert edits(api) == []
    await until(lambda: edits(api) != [])
    assert edits(api) == ["⏳ Z-Image: ready, fetching the result…"]

    clock.now += 10  # past the gap: the next step goes at once
    await chat.job_progress(shown, Progress.CHECKING)
    assert len(edits(api)) == 2


async def test_a_final_word_drops_the_step_that_was_waiting() -> None:
    chat, api, _clock = chat_with(gap=30)
    started = job("j2", model_id="z-image", chat_id=8, lang="en", price=76)
    message_id = await chat.job_started(started)
    shown = attrs.evolve(started, progress_message_id=message_id, failure=FailureKind.TIMED_OUT)
    await chat.job_progress(shown, Progress.SUBMITTED)
    await chat.job_failed(shown)
    assert edits(api) == [
        "❌ Z-Image: the generation took too long and was stopped. 0.76 RUB returned to your "
        "balance."
    ]
    assert chat._waiting == {}  # the held-back step was cancelled, not merely late
    assert len([r for r in api.requests if isinstance(r, SendMessage)]) == 1


async def test_checking_is_told_at_once_whatever_the_gap() -> None:
    chat, api, _clock = chat_with(gap=30)
    started = job("j3", model_id="z-image", chat_id=9, lang="en")
    message_id = await chat.job_started(started)
    shown = attrs.evolve(started, progress_message_id=message_id)
    await chat.job_progress(shown, Progress.CHECKING)
    assert len(edits(api)) == 1
    assert edits(api)[0].startswith("⏳ Z-Image: Kie.ai did not answer in time")
