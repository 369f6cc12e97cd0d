"""AiogramChat: the ChatPort over the Bot API, rendering texts in the user's language."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import BufferedInputFile

from adapters.telegram.i18n import Translator
from core.domain.catalog import Catalog
from core.domain.errors import UnknownModel
from core.domain.jobs import Job
from core.domain.money import Pricing
from core.ports.chat import ChatPort

log = logging.getLogger(__name__)


class AiogramChat(ChatPort):
    def __init__(self, bot: Bot, translator: Translator, catalog: Catalog, pricing: Pricing):
        self._bot = bot
        self._tr = translator
        self._catalog = catalog
        self._pricing = pricing

    def _title(self, job: Job) -> str:
        try:
            return self._catalog.get(job.model_id).title
        except UnknownModel:
            return job.model_id

    async def job_started(self, job: Job) -> int | None:
        text = self._tr(job.lang, "job-started", title=self._title(job))
        try:
            message = await self._bot.send_message(job.chat_id, text)
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            log.warning("progress message not sent job_id=%s: %s", job.id, exc)
            return None
        return message.message_id

    async def _status(self, job: Job, text: str) -> None:
        """Replace the progress message, or send a new one when it cannot be edited."""
        try:
            if job.progress_message_id is not None:
                await self._bot.edit_message_text(
                    text, chat_id=job.chat_id, message_id=job.progress_message_id
                )
            else:
                await self._bot.send_message(job.chat_id, text)
        except TelegramBadRequest:
            await self._bot.send_message(job.chat_id, text)

    async def job_failed(self, job: Job, reason: str) -> None:
        text = self._tr(
            job.lang,
            "job-failed",
            title=self._title(job),
            reason=reason,
            price=self._pricing.format(job.price),
        )
        try:
            await self._status(job, text)
        except TelegramForbiddenError:
            log.warning("user blocked the bot; failure not shown job_id=%s", job.id)

    async def deliver(self, job: Job, files: list[tuple[str, bytes, str]]) -> None:
        caption = self._tr(
            job.lang, "job-caption", title=self._title(job), price=self._pricing.format(job.price)
        )
        try:
            for name, content, mime in files:
                upload = BufferedInputFile(content, filename=name)
                if mime.startswith("image/") and mime != "image/gif":
                    await self._bot.send_photo(job.chat_id, upload, caption=caption)
                elif mime.startswith("video/"):
                    await self._bot.send_video(job.chat_id, upload, caption=caption)
                elif mime.startswith("audio/"):
                    await self._bot.send_audio(job.chat_id, upload, caption=caption)
                else:
                    await self._bot.send_document(job.chat_id, upload, caption=caption)
            await self._status(job, self._tr(job.lang, "job-done", title=self._title(job)))
        except TelegramForbiddenError:
            # Nobody can receive it; the result stays in the user's history.
            log.warning("user blocked the bot; result not sent job_id=%s", job.id)
