"""How result files become Bot API sends: one media group where Telegram allows, else singles.

sendMediaGroup takes 2–10 items; photos and videos may share a group, audio only groups with
audio and documents with documents. A photo over 10 MB (or a GIF) goes as a document. Plain
text short enough for a message (a transcript) is sent as a message, not as a file.
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
TEXT_MAX_CHARS = 3500  # a message holds 4096; the caption line goes above the text
_FAMILY = {
    "photo": "visual",
    "video": "visual",
    "audio": "audio",
    "document": "document",
    "text": "text",
}
_MEDIA = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "audio": InputMediaAudio,
    "document": InputMediaDocument,
}

InputMedia = InputMediaPhoto | InputMediaVideo | InputMediaAudio | InputMediaDocument


@attrs.frozen
class Outgoing:
    kind: str  # photo | video | audio | document | text
    filename: str
    content: bytes

    def upload(self) -> BufferedInputFile:
        return BufferedInputFile(self.content, filename=self.filename)

    def as_media(self, caption: str | None) -> InputMedia:
        media: InputMedia = _MEDIA[self.kind](media=self.upload(), caption=caption)
        return media


def as_text(content: bytes) -> str | None:
    """The content as message text, when it is UTF-8 and short enough."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.strip() and len(text) <= TEXT_MAX_CHARS else None


def kind_of(mime: str, size: int, content: bytes = b"") -> str:
    if mime.startswith("text/plain") and as_text(content) is not None:
        return "text"
    if mime.startswith("image/") and mime != "image/gif" and size <= PHOTO_MAX_BYTES:
        return "photo"
    if mime.startswith("video/"):
        return "video"
    if mime.startswith("audio/"):
        return "audio"
    return "document"


def plan_sends(files: list[tuple[str, bytes, str]]) -> list[list[Outgoing]]:
    """Groups in send order; a group of one is sent with its own method."""
    items = [
        Outgoing(kind_of(mime, len(content), content), name, content)
        for name, content, mime in files
    ]
    if len(items) > 1 and len({_FAMILY[i.kind] for i in items}) == 1 and items[0].kind != "text":
        return [items[i : i + MEDIA_GROUP_MAX] for i in range(0, len(items), MEDIA_GROUP_MAX)]
    return [[item] for item in items]
