"""AiogramChat: the ChatPort over the Bot API, rendering texts in the user's language."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardMarkup

from adapters.telegram.context import Tr
from adapters.telegram.i18n import Translator
from adapters.telegram.keyboards import after_result, back_to_menu, job_waiting
from adapters.telegram.labels import param_label, value_label
from adapters.telegram.outgoing import Outgoing, plan_sends
from core.domain.catalog import Catalog
from core.domain.jobs import FailureKind, Job
from core.domain.money import Pricing
from core.ports.chat import ChatPort, Progress

log = logging.getLogger(__name__)

_PROGRESS_KEYS = {
    Progress.SUBMITTED: "job-submitted",
    Progress.CHECKING: "job-checking",
    Progress.FETCHING: "job-fetching",
}
_RETRY_AFTER_CAP = 30  # seconds we wait for Telegram's flood control before a final message
_FAILURE_KEYS = {
    FailureKind.MAINTENANCE: "job-failed-maintenance",
    FailureKind.REJECTED: "job-failed-rejected",
    FailureKind.PROVIDER_ERROR: "job-failed-provider",
    FailureKind.TIMED_OUT: "job-failed-timeout",
    FailureKind.UNDELIVERABLE: "job-failed-undeliverable",
    FailureKind.NOT_SUBMITTED: "job-failed-unsubmitted",
    FailureKind.UNCONFIRMED: "job-failed-unconfirmed",
}


class AiogramChat(ChatPort):
    """Steps on the way (queued → generating → fetching) edit one progress message, at most
    one edit per ``progress_gap`` seconds per chat: a step that comes sooner is sent when the
    gap is over, and only the latest waiting step is (it says the most). Final words — the
    result, a failure, a cancellation — go at once and drop what was waiting."""

    def __init__(
        self,
        bot: Bot,
        translator: Translator,
        catalog: Catalog,
        pricing: Pricing,
        progress_gap: float = 3.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot = bot
        self._tr = translator
        self._catalog = catalog
        self._pricing = pricing
        self._gap = progress_gap
        self._now = monotonic
        self._last_step: dict[int, float] = {}
        """When each chat's progress message last changed (this process's view)."""
        self._waiting: dict[str, asyncio.Task[None]] = {}
        """A job's step held back by the gap."""

    def _returned(self, job: Job) -> str:
        """What went back to the user: the held price, or the free generation it used."""
        if job.price == 0:
            return self._tr(job.lang, "returned-free")
        return self._tr(job.lang, "returned-money", price=self._pricing.format(job.price))

    def _title(self, job: Job) -> str:
        model = self._catalog.find(job.model_id)
        return model.title if model is not None else job.model_id

    async def job_started(self, job: Job) -> int | None:
        text = self._tr(job.lang, "job-started", title=self._title(job))
        markup = job_waiting(Tr(self._tr, job.lang), job.id)
        try:
            message = await self._bot.send_message(job.chat_id, text, reply_markup=markup)
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            log.warning("progress message not sent job_id=%s: %s", job.id, exc)
            return None
        self._stepped(job.chat_id)
        return message.message_id

    def _stepped(self, chat_id: int) -> None:
        if len(self._last_step) > 50_000:  # bounded: old chats are forgotten, not kept forever
            self._last_step.clear()
        self._last_step[chat_id] = self._now()

    def _final(self, job: Job) -> None:
        """A final word is coming: a step still waiting would only overwrite it."""
        waiting = self._waiting.pop(job.id, None)
        if waiting is not None:
            waiting.cancel()

    async def _status(
        self, job: Job, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """Replace the progress message, or send a new one when it cannot be edited. Under
        flood control the final word waits as long as Telegram asks (within a bound)."""
        self._final(job)
        try:
            await self._edit_or_send(job, text, markup)
        except TelegramRetryAfter as exc:
            await asyncio.sleep(min(exc.retry_after, _RETRY_AFTER_CAP))
            await self._edit_or_send(job, text, markup)

    async def _edit_or_send(
        self, job: Job, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        try:
            if job.progress_message_id is not None:
                await self._bot.edit_message_text(
                    text,
                    chat_id=job.chat_id,
                    message_id=job.progress_message_id,
                    reply_markup=markup,
                )
                return
        except TelegramBadRequest as exc:
            if "message is not modified" in str(exc):
                return  # it already says this (a retried step)
        await self._bot.send_message(job.chat_id, text, reply_markup=markup)

    async def job_progress(self, job: Job, progress: Progress) -> None:
        text = self._tr(job.lang, _PROGRESS_KEYS[progress], title=self._title(job))
        wait = self._last_step.get(job.chat_id, -self._gap) + self._gap - self._now()
        earlier = self._waiting.pop(job.id, None)
        if earlier is not None:
            earlier.cancel()  # this step says more than the one that was waiting
        # "Checking whether it started" is news the user must get at once (their money is
        # held on an unknown outcome); the other steps only say that things move on.
        if wait <= 0 or progress is Progress.CHECKING:
            await self._step(job, text)
            return
        self._waiting[job.id] = asyncio.create_task(self._step_later(job, text, wait))

    async def _step_later(self, job: Job, text: str, wait: float) -> None:
        await asyncio.sleep(wait)
        self._waiting.pop(job.id, None)
        await self._step(job, text)

    async def _step(self, job: Job, text: str) -> None:
        self._stepped(job.chat_id)
        try:
            await self._edit_or_send(job, text, None)
        except TelegramRetryAfter as exc:
            # A step on the way: skipped under flood control, the next one says more.
            log.info("progress skipped job_id=%s: retry after %ss", job.id, exc.retry_after)
        except TelegramForbiddenError:
            log.warning("user blocked the bot; progress not shown job_id=%s", job.id)

    async def job_cancelled(self, job: Job) -> None:
        text = self._tr(
            job.lang, "job-cancelled", title=self._title(job), returned=self._returned(job)
        )
        try:
            await self._status(job, text, back_to_menu(Tr(self._tr, job.lang)))
        except TelegramForbiddenError:
            log.warning("user blocked the bot; cancellation not shown job_id=%s", job.id)

    async def job_failed(self, job: Job) -> None:
        kind = job.failure or FailureKind.PROVIDER_ERROR
        key = _FAILURE_KEYS[kind]
        if kind is FailureKind.REJECTED and not job.failure_reason:
            key = "job-failed-rejected-plain"
        text = self._tr(
            job.lang,
            key,
            title=self._title(job),
            reason=job.failure_reason or "",
            returned=self._returned(job),
        )
        try:
            await self._status(job, text, back_to_menu(Tr(self._tr, job.lang)))
        except TelegramForbiddenError:
            log.warning("user blocked the bot; failure not shown job_id=%s", job.id)

    async def deliver(
        self, job: Job, files: list[tuple[str, bytes, str]], links: Sequence[str] = ()
    ) -> bool:
        """The result, captioned, with Repeat and New under its last message; the progress
        message goes (the result says what it said)."""
        self._final(job)
        title = self._title(job)
        caption: str | None = self._caption(job, title)
        actions = after_result(Tr(self._tr, job.lang), job.id)
        try:
            groups = plan_sends(files)
            attached = False
            for i, group in enumerate(groups):
                # Buttons ride on the last message when it can carry them (not an album).
                markup = actions if i == len(groups) - 1 and len(group) == 1 else None
                try:
                    await self._send_group(job.chat_id, group, caption, markup)
                    attached = markup is not None
                except TelegramEntityTooLarge:
                    # Over the server's real limit despite our check: send the links, never retry.
                    log.warning("result refused as too large job_id=%s", job.id)
                    links = [*links, *(r.url for r in job.result if r.url not in links)]
                caption = None  # one caption per delivery, on the first message
            for url in dict.fromkeys(u for u in links if u.startswith("http")):
                text = self._tr(job.lang, "job-link", title=title, url=url)
                await self._bot.send_message(job.chat_id, text)
                attached = False
            if not attached:
                text = self._tr(job.lang, "job-done-actions", title=title)
                await self._bot.send_message(job.chat_id, text, reply_markup=actions)
            await self._drop_progress(job)
        except TelegramForbiddenError:
            # Nobody can receive it: not delivered, so not paid for.
            log.warning("user blocked the bot; result not sent job_id=%s", job.id)
            return False
        return True

    def _caption(self, job: Job, title: str) -> str:
        """The model and price, and the options the user chose that differ from the
        model's defaults (what makes this result what it is)."""
        caption = self._tr(
            job.lang, "job-caption", title=title, price=self._pricing.format(job.price)
        )
        model = self._catalog.find(job.model_id)
        if model is None:
            return caption
        tr = Tr(self._tr, job.lang)
        chosen = [
            f"{param_label(tr, spec)}: {value_label(tr, spec, job.params[spec.name])}"
            for spec in model.option_params
            if spec.name in job.params and str(job.params[spec.name]) != str(spec.default)
        ]
        return "\n".join([caption, " · ".join(chosen)]) if chosen else caption

    async def _drop_progress(self, job: Job) -> None:
        self._final(job)
        if job.progress_message_id is None:
            return
        try:
            await self._bot.delete_message(job.chat_id, job.progress_message_id)
        except TelegramBadRequest:
            # Too old to delete (48 h) or gone already: say it is done instead.
            try:
                title = self._title(job)
                await self._status(job, self._tr(job.lang, "job-done", title=title))
            except TelegramBadRequest as exc:
                log.info("progress message left as it was job_id=%s: %s", job.id, exc)

    async def _send_group(
        self,
        chat_id: int,
        group: list[Outgoing],
        caption: str | None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        if len(group) > 1:
            media: list[Any] = [
                item.as_media(caption if i == 0 else None) for i, item in enumerate(group)
            ]
            await self._bot.send_media_group(chat_id, media)
            return
        item = group[0]
        if item.kind == "text":
            body = item.content.decode("utf-8")
            text = f"{caption}\n\n{body}" if caption else body
            await self._bot.send_message(chat_id, text, reply_markup=markup)
            return
        upload = item.upload()
        if item.kind == "photo":
            await self._bot.send_photo(chat_id, upload, caption=caption, reply_markup=markup)
        elif item.kind == "video":
            await self._bot.send_video(chat_id, upload, caption=caption, reply_markup=markup)
        elif item.kind == "audio":
            await self._bot.send_audio(chat_id, upload, caption=caption, reply_markup=markup)
        else:
            await self._bot.send_document(chat_id, upload, caption=caption, reply_markup=markup)
