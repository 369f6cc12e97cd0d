"""TgUser: a Telegram user talking to the bot through FakeBotApiServer.

What the user does becomes an update shaped as Telegram builds it (entities for links and
/commands, PhotoSize arrays with working file ids, callback queries carrying the whole stored
message), queued for getUpdates or the webhook. What the bot did is read back per chat, in
each message's latest state.

``pay`` plays Telegram's Stars checkout for an invoice the bot sent: a ``pre_checkout_query``
the bot must answer in time, then (only after an ok answer) the ``successful_payment``
message; ``resend_successful_payment`` is Telegram delivering that message once more.
"""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tests.fakes.bot_api_server import (
    MEDIA_KINDS,
    CallbackAnswer,
    MessageRecord,
    PreCheckoutAnswer,
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
    def invoice(self) -> dict[str, Any] | None:
        """The ``invoice`` object of an invoice message (its payload is not in it)."""
        found = self.raw.get("invoice")
        return copy.deepcopy(found) if isinstance(found, dict) else None

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


@dataclass(frozen=True)
class PaymentResult:
    """What happened when the user pressed Pay on an invoice."""

    invoice_message_id: int
    query_id: str
    """The pre_checkout_query id the bot had to answer."""
    pre_checkout_update_id: int
    total_amount: int
    """The amount the user agreed to (the invoice's, or the ``stars`` passed to ``pay``)."""
    invoice_payload: str
    answer: PreCheckoutAnswer | None
    """None if the bot did not answer before the client gave up."""
    charge_id: str | None = None
    """telegram_payment_charge_id, set when the payment went through."""
    payment_update_id: int | None = None
    payment_message: dict[str, Any] | None = None
    """The successful_payment message as delivered to the bot."""

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def answered_ok(self) -> bool:
        return self.answer is not None and self.answer.ok

    @property
    def paid(self) -> bool:
        return self.charge_id is not None

    @property
    def error_message(self) -> str | None:
        return self.answer.error_message if self.answer else None

    @property
    def latency(self) -> float | None:
        """Seconds from the query reaching the bot to its answer (None: never answered)."""
        return self.answer.latency if self.answer else None

    @property
    def update_ids(self) -> list[int]:
        """The updates this payment queued for the bot, in order."""
        ids = [self.pre_checkout_update_id]
        if self.payment_update_id is not None:
            ids.append(self.payment_update_id)
        return ids


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

    def pay(
        self, message_id: int | None = None, *, stars: int | None = None, timeout: float = 10.0
    ) -> PaymentResult:
        """Pay the newest unpaid invoice of the bot (or the one with ``message_id``).

        Queues a ``pre_checkout_query`` (the invoice's amount, or ``stars`` to play a client
        holding a stale or tampered amount) and waits up to ``timeout`` seconds, Telegram's 10
        by default, for answerPreCheckoutQuery; a later answer gets QUERY_ID_INVALID. Only an
        ok answer is followed by the ``successful_payment`` message. An invoice already paid,
        deleted or missing raises LookupError, as its Pay button is gone.
        """
        checkout = self.api._start_checkout(self.info, message_id, stars, timeout)
        answer = self.api._await_checkout(checkout)
        base = PaymentResult(
            invoice_message_id=checkout.invoice.message_id,
            query_id=checkout.query_id,
            pre_checkout_update_id=checkout.update_id,
            total_amount=checkout.amount,
            invoice_payload=checkout.invoice.payload,
            answer=answer,
        )
        if answer is None or not answer.ok:
            return base
        charge, update = self.api._complete_payment(checkout)
        return replace(
            base,
            charge_id=charge.charge_id,
            payment_update_id=int(update["update_id"]),
            payment_message=copy.deepcopy(charge.payment_message),
        )

    def resend_successful_payment(self, result: PaymentResult) -> dict[str, Any]:
        """The same successful_payment message (same message and charge id) in a new update."""
        if result.charge_id is None:
            raise ValueError("this payment never succeeded; there is nothing to redeliver")
        return self.api._redeliver_payment(result.charge_id)

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

    def invoices(self) -> list[BotMessage]:
        """The bot's invoice messages in this chat, oldest first."""
        return [m for m in self.messages() if m.invoice is not None]

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
