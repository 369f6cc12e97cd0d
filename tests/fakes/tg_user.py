"""TgUser: a Telegram user talking to the bot through FakeBotApiServer.

What the user does becomes an update shaped as Telegram builds it (entities for links and
/commands, PhotoSize arrays with working file ids, callback queries carrying the whole stored
message), queued for getUpdates or the webhook. What the bot did is read back per chat, in
each message's latest state.
"""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.fakes.bot_api_server import (
    MEDIA_KINDS,
    CallbackAnswer,
    MessageRecord,
    detect_entities,
    first_url,
)
from tests.fakes.waiting import wait_for

if TYPE_CHECKING:
    from tests.fakes.bot_api_server import FakeBotApiServer


@dataclass(frozen=True)
class BotMessage:
    """A bot message as the chat shows it now (edits applied), with reading helpers."""

    raw: dict[str, Any]
    version: int
    edited: bool
    deleted: bool
    reply_keyboard: dict[str, Any] | None
    content: bytes | None
    """The bytes of the attached file (the largest photo size), if any."""

    @classmethod
    def of(cls, rec: MessageRecord, content: bytes | None) -> BotMessage:
        return cls(
            copy.deepcopy(rec.message),
            rec.version,
            rec.edited,
            rec.deleted,
            copy.deepcopy(rec.reply_keyboard),
            content,
        )

    @property
    def message_id(self) -> int:
        return int(self.raw["message_id"])

    @property
    def chat_id(self) -> int:
        return int(self.raw["chat"]["id"])

    @property
    def text(self) -> str | None:
        return self.raw.get("text")

    @property
    def caption(self) -> str | None:
        return self.raw.get("caption")

    @property
    def body(self) -> str:
        """Text or caption, whichever the message has."""
        return self.raw.get("text") or self.raw.get("caption") or ""

    @property
    def media(self) -> str | None:
        return next((kind for kind in MEDIA_KINDS if kind in self.raw), None)

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        return copy.deepcopy((self.raw.get("reply_markup") or {}).get("inline_keyboard", []))

    @property
    def button_texts(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for row in self.buttons for b in row if "callback_data" in b]

    @property
    def file_id(self) -> str | None:
        media = self.raw.get(self.media or "")
        if isinstance(media, list):
            media = media[-1] if media else None
        return media.get("file_id") if isinstance(media, dict) else None


class TgUser:
    """One private chat: ``chat_id == user id``, as in Telegram."""

    def __init__(self, api: FakeBotApiServer, info: dict[str, Any]) -> None:
        self.api = api
        self.info = info
        self.id = int(info["id"])
        self.chat_id = self.id

    # -------------------------------------------------------------------------- sending

    def send_text(
        self,
        text: str,
        *,
        reply_to: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A text message; Telegram's own entities (links, /commands, …) are added."""
        fields: dict[str, Any] = {"text": text}
        found = entities if entities is not None else detect_entities(text)
        if found:
            fields["entities"] = found
        url = first_url(text)
        if url:
            fields["link_preview_options"] = {"url": url}
        if reply_to is not None:
            fields["reply_to_message"] = self._replied(reply_to)
        return self.api._user_message(self.info, fields)

    def send_command(self, command: str) -> dict[str, Any]:
        """E.g. ``/start ref_x``: a text starting with a bot_command entity."""
        if not command.startswith("/"):
            raise ValueError("a command starts with '/'")
        return self.send_text(command)

    def send_photo(self, content: bytes, caption: str | None = None) -> dict[str, Any]:
        fields: dict[str, Any] = {"photo": self.api._user_file(content, "photo", None, None)}
        self._caption(fields, caption)
        return self.api._user_message(self.info, fields)

    def send_document(
        self, content: bytes, name: str, mime: str | None = None, caption: str | None = None
    ) -> dict[str, Any]:
        mime = mime or mimetypes.guess_type(name)[0] or "application/octet-stream"
        fields: dict[str, Any] = {"document": self.api._user_file(content, "document", name, mime)}
        self._caption(fields, caption)
        return self.api._user_message(self.info, fields)

    def send_audio(
        self, content: bytes, name: str = "audio.mp3", mime: str = "audio/mpeg"
    ) -> dict[str, Any]:
        fields = {"audio": self.api._user_file(content, "audio", name, mime)}
        return self.api._user_message(self.info, fields)

    def send_voice(self, content: bytes) -> dict[str, Any]:
        fields = {"voice": self.api._user_file(content, "voice", None, "audio/ogg")}
        return self.api._user_message(self.info, fields)

    def send_video(
        self, content: bytes, name: str = "video.mp4", mime: str = "video/mp4"
    ) -> dict[str, Any]:
        fields = {"video": self.api._user_file(content, "video", name, mime)}
        return self.api._user_message(self.info, fields)

    def press(self, data_or_text: str, *, message_id: int | None = None) -> dict[str, Any]:
        """Press a button of the newest bot message that has it (callback_data, then text).

        Returns the queued update; its ``callback_query.message`` is the whole stored
        message, as Telegram sends it.
        """
        return self.api._press(self.info, data_or_text, message_id, forged=False)

    def press_raw(self, message_id: int, data: str) -> dict[str, Any]:
        """A callback with any data on an existing message (what a modified client can do)."""
        return self.api._press(self.info, data, message_id, forged=True)

    def block(self) -> None:
        """The bot gets 403 for this chat from now on, and a my_chat_member update."""
        self.api._block(self.info, True)

    def unblock(self) -> None:
        self.api._block(self.info, False)

    # -------------------------------------------------------------------------- reading

    def messages(self, *, include_deleted: bool = False) -> list[BotMessage]:
        return self.api.messages(self.chat_id, include_deleted=include_deleted)

    def last_message(self) -> BotMessage | None:
        found = self.messages()
        return found[-1] if found else None

    def texts(self) -> list[str]:
        return [m.body for m in self.messages()]

    def answers(self) -> list[CallbackAnswer]:
        """The bot's answerCallbackQuery calls for this user's presses."""
        return self.api._answers_for(self.id)

    def chat_actions(self) -> list[str]:
        return [action for chat, action in list(self.api.chat_actions) if chat == self.chat_id]

    def wait_for_message(
        self,
        predicate: Callable[[BotMessage], bool] | None = None,
        timeout: float = 10.0,
        *,
        after: int | None = None,
    ) -> BotMessage:
        return self.api.wait_for_message(self.chat_id, predicate, timeout, after=after)

    def wait_for_answer(self, update: dict[str, Any], timeout: float = 10.0) -> CallbackAnswer:
        """The answer to the callback query queued by ``press`` (given its update)."""
        return self.api.wait_for_answer(update["callback_query"]["id"], timeout)

    def wait_for_text(self, fragment: str, timeout: float = 10.0) -> BotMessage:
        return self.wait_for_message(lambda m: fragment in m.body, timeout)

    def wait_until(self, check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        wait_for(check, timeout, what or f"condition in chat {self.chat_id}")

    # -------------------------------------------------------------------------- internals

    @staticmethod
    def _caption(fields: dict[str, Any], caption: str | None) -> None:
        if caption:
            fields["caption"] = caption
            found = detect_entities(caption)
            if found:
                fields["caption_entities"] = found

    def _replied(self, message_id: int) -> dict[str, Any]:
        message = self.api.message(self.chat_id, message_id)
        if message is None:
            raise LookupError(f"no message {message_id} to reply to")
        message.pop("reply_to_message", None)
        return message
