"""FakeBotApi: a recording aiogram session that answers like the Bot API.

Replies go through aiogram's own ``check_response``, so queued errors become the same
exceptions (403 Forbidden, 429 RetryAfter, …) the real server would cause.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import AsyncGenerator
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    AnswerCallbackQuery,
    AnswerPreCheckoutQuery,
    DeleteMessage,
    DeleteWebhook,
    EditMessageReplyMarkup,
    EditMessageText,
    GetFile,
    GetMe,
    GetUpdates,
    RefundStarPayment,
    SendAudio,
    SendDocument,
    SendInvoice,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    SendVideo,
    SetWebhook,
    TelegramMethod,
)

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Kie", "username": "kie_test_bot"}
SENDS = (SendMessage, SendPhoto, SendVideo, SendAudio, SendDocument, SendMediaGroup)


class FakeBotApi(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self.updates: list[dict[str, Any]] = []
        self._errors: dict[type, list[tuple[int, str]]] = defaultdict(list)
        self._ids = itertools.count(1000)
        self.files: dict[str, bytes] = {}
        """Telegram-hosted files by file_id, served by GetFile and stream_content."""
        self.downloads: list[str] = []
        """Every file URL the bot streamed (they carry the token: they must stay in-process)."""

    def add_file(self, file_id: str, content: bytes) -> None:
        self.files[file_id] = content

    def fail_next(self, method: type, status: int, description: str) -> None:
        self._errors[method].append((status, description))

    def sent(self, *kinds: type) -> list[Any]:
        kinds = kinds or SENDS
        return [r for r in self.requests if isinstance(r, kinds)]

    def texts(self) -> list[str]:
        out = []
        for r in self.requests:
            text = getattr(r, "text", None) or getattr(r, "caption", None)
            if isinstance(r, (*SENDS, EditMessageText, AnswerCallbackQuery)) and text:
                out.append(text)
        return out

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ):
        self.requests.append(method)
        queued = self._errors.get(type(method))
        if queued:
            status, description = queued.pop(0)
            body = {"ok": False, "error_code": status, "description": description}
            return self.check_response(bot, method, status, json.dumps(body)).result
        result = self._result(method)
        body = {"ok": True, "result": result}
        return self.check_response(bot, method, 200, json.dumps(body)).result

    def _message(self, chat_id: Any, message_id: int | None = None, **extra: Any) -> dict:
        return {
            "message_id": message_id or next(self._ids),
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
            **{k: v for k, v in extra.items() if v is not None},
        }

    def _result(self, method: TelegramMethod[Any]) -> Any:
        if isinstance(method, GetMe):
            return BOT_USER
        if isinstance(method, GetUpdates):
            # Like Telegram: an update is handed out until a later offset confirms it.
            offset = method.offset or 0
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            return list(self.updates)
        if isinstance(method, (SetWebhook, DeleteWebhook, DeleteMessage, RefundStarPayment)):
            return True
        if isinstance(method, (AnswerCallbackQuery, AnswerPreCheckoutQuery)):
            return True
        if isinstance(method, SendInvoice):
            invoice = {
                "title": method.title,
                "description": method.description,
                "start_parameter": "",
                "currency": method.currency,
                "total_amount": sum(p.amount for p in method.prices),
            }
            return self._message(method.chat_id, invoice=invoice)
        if isinstance(method, GetFile):
            content = self.files[method.file_id]
            return {
                "file_id": method.file_id,
                "file_unique_id": f"u-{method.file_id}",
                "file_size": len(content),
                "file_path": f"files/{method.file_id}",
            }
        if isinstance(method, SendMediaGroup):
            return [self._message(method.chat_id) for _ in method.media]
        if isinstance(method, SendMessage):
            return self._message(method.chat_id, text=method.text)
        if isinstance(method, SENDS):
            return self._message(method.chat_id, caption=getattr(method, "caption", None))
        if isinstance(method, (EditMessageText, EditMessageReplyMarkup)):
            text = getattr(method, "text", None) or "…"
            return self._message(method.chat_id, method.message_id, text=text)
        raise NotImplementedError(f"FakeBotApi does not answer {type(method).__name__}")

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        self.downloads.append(url)
        content = self.files[url.rsplit("/files/", 1)[1]]
        for start in range(0, len(content), chunk_size):
            yield content[start : start + chunk_size]
