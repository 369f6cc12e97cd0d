"""How result files become Bot API sends: one media group where Telegram allows, else singles.

sendMediaGroup takes 2–10 items; photos and videos may share a group, audio only groups with
audio and documents with documents. A photo over 10 MB (or a GIF) goes as a document.
"""

from __future__ import annotations

import attrs
from aiogram.types import (
    BufferedInputFile,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
)

MEDIA_GROUP_MAX = 10
PHOTO_MAX_BYTES = 10 * 1024 * 1024
_FAMILY = {"photo": "visual", "video": "visual", "audio": "audio", "document": "document"}
_MEDIA = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "audio": InputMediaAudio,
    "document": InputMediaDocument,
}

InputMedia = InputMediaPhoto | InputMediaVideo | InputMediaAudio | InputMediaDocument


@attrs.frozen
class Outgoing:
    kind: str  # photo | video | audio | document
    filename: str
    content: bytes

    def upload(self) -> BufferedInputFile:
        return BufferedInputFile(self.content, filename=self.filename)

    def as_media(self, caption: str | None) -> InputMedia:
        media: InputMedia = _MEDIA[self.kind](media=self.upload(), caption=caption)
        return media


def kind_of(mime: str, size: int) -> str:
    if mime.startswith("image/") and mime != "image/gif" and size <= PHOTO_MAX_BYTES:
        return "photo"
    if mime.startswith("video/"):
        return "video"
    if mime.startswith("audio/"):
        return "audio"
    return "document"


def plan_sends(files: list[tuple[str, bytes, str]]) -> list[list[Outgoing]]:
    """Groups in send order; a group of one is sent with its own method."""
    items = [Outgoing(kind_of(mime, len(content)), name, content) for name, content, mime in files]
    if len(items) > 1 and len({_FAMILY[i.kind] for i in items}) == 1:
        return [items[i : i + MEDIA_GROUP_MAX] for i in range(0, len(items), MEDIA_GROUP_MAX)]
    return [[item] for item in items]
