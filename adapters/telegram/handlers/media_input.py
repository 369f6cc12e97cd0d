"""The wizard's media steps: take a photo/video/audio/document, check it, host it on Kie.ai.

The file is fetched through the bot (``bot.download``): the token stays in this process and
no Telegram file URL is handed to anyone. Only the Kie-hosted URL goes into the job params.
"""

from __future__ import annotations

import logging

import attrs
from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from adapters.media.downloader import sniff
from adapters.telegram.callbacks import MediaCb
from adapters.telegram.context import BotServices, Tr
from adapters.telegram.handlers.wizard import (
    MB,
    Wizard,
    advance,
    media_keyboard,
    media_limit,
)
from core.domain.catalog import MediaKind, ParamSpec
from core.domain.users import User
from core.ports.generation import GenerationError
from core.ports.media import DownloadError

log = logging.getLogger(__name__)


@attrs.frozen
class Incoming:
    file_id: str
    size: int | None
    mime: str
    filename: str
    kind: MediaKind


def incoming_file(message: Message) -> Incoming | None:
    """The file a message carries, with the kind Telegram says it is."""
    if message.photo:
        best = message.photo[-1]  # Telegram lists sizes ascending: the last is the original
        return Incoming(best.file_id, best.file_size, "image/jpeg", "photo.jpg", MediaKind.IMAGE)
    if message.video:
        v = message.video
        mime = v.mime_type or "video/mp4"
        return Incoming(v.file_id, v.file_size, mime, v.file_name or "video.mp4", MediaKind.VIDEO)
    if message.audio:
        a = message.audio
        mime = a.mime_type or "audio/mpeg"
        return Incoming(a.file_id, a.file_size, mime, a.file_name or "audio.mp3", MediaKind.AUDIO)
    if message.voice:
        v2 = message.voice
        mime = v2.mime_type or "audio/ogg"
        return Incoming(v2.file_id, v2.file_size, mime, "voice.ogg", MediaKind.AUDIO)
    if message.document:
        d = message.document
        mime = (d.mime_type or "application/octet-stream").lower()
        family = mime.split("/", 1)[0]
        kind = MediaKind(family) if family in ("image", "video", "audio") else MediaKind.DOCUMENT
        return Incoming(d.file_id, d.file_size, mime, d.file_name or "file", kind)
    return None


def _accepted(tr: Tr, spec: ParamSpec) -> str:
    return ", ".join(a.split("/", 1)[1].upper() for a in spec.accept) or tr("media-any")


async def got_media(
    message: Message, state: FSMContext, services: BotServices, tr: Tr, user: User, bot: Bot
) -> None:
    data = await state.get_data()
    model = services.catalog.get(data["model_id"])
    step = int(data.get("step", 0))
    spec = model.media_params[step]
    kind_name = tr(f"media-kind-{spec.media or 'document'}")
    item = incoming_file(message)
    if item is None:
        await message.answer(tr("media-expected", kind=kind_name))
        return
    if spec.media is not None and spec.media is not MediaKind.DOCUMENT and item.kind != spec.media:
        await message.answer(tr("media-wrong-kind", kind=kind_name))
        return
    if not spec.accepts_mime(item.mime):
        await message.answer(tr("media-wrong-type", kind=kind_name, accepted=_accepted(tr, spec)))
        return
    limit = media_limit(spec, services)
    if item.size is not None and item.size > limit:
        await message.answer(tr("media-too-large", size=f"{item.size / MB:.1f}", max=limit // MB))
        return
    try:
        content = (await bot.download(item.file_id)).read()  # type: ignore[union-attr]
    except TelegramAPIError as exc:
        log.warning("telegram file download failed: %s", exc)
        await message.answer(tr("media-download-failed"))
        return
    if len(content) > limit:  # Telegram did not say the size: check what arrived
        await message.answer(
            tr("media-too-large", size=f"{len(content) / MB:.1f}", max=limit // MB)
        )
        return
    try:
        real = sniff(content, item.mime)
    except DownloadError:
        real = "text/html"
    if spec.media is not MediaKind.DOCUMENT and not real.startswith(f"{spec.media}/"):
        await message.answer(tr("media-wrong-kind", kind=kind_name))
        return
    if services.uploader is None:
        await message.answer(tr("media-upload-failed"))
        return
    try:
        url = await services.uploader.upload(content, item.filename, item.mime)
    except GenerationError as exc:
        log.warning("upload to the provider failed: %s", exc)
        await message.answer(tr("media-upload-failed"))
        return
    params = dict(data.get("params", {}))
    collected = [*params.get(spec.name, []), url]
    params[spec.name] = collected
    await state.update_data(params=params)
    if len(collected) < spec.max_items:
        await message.answer(
            tr("media-received", count=len(collected), max=spec.max_items),
            reply_markup=media_keyboard(tr, spec, step, len(collected)),
        )
        return
    await advance(message, state, services, tr, user)


async def media_button(
    query: CallbackQuery,
    callback_data: MediaCb,
    state: FSMContext,
    services: BotServices,
    tr: Tr,
    user: User,
) -> None:
    data = await state.get_data()
    if "model_id" not in data or int(data.get("step", -1)) != callback_data.step:
        await query.answer(tr("stale-button"))
        return
    spec = services.catalog.get(data["model_id"]).media_params[callback_data.step]
    collected = len(data.get("params", {}).get(spec.name, []))
    allowed = (callback_data.action == "skip" and not spec.required and collected == 0) or (
        callback_data.action == "done" and collected > 0
    )
    if not allowed:
        await query.answer(tr("stale-button"))
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await advance(query.message, state, services, tr, user)


def build() -> Router:
    router = Router(name="media_input")
    router.message.register(got_media, Wizard.media)
    router.callback_query.register(media_button, MediaCb.filter(), Wizard.media)
    return router
