"""Raw Telegram update helpers that need no aiogram: validation and the per-chat ordering key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

# Update kinds whose object carries a ``chat``; the rest are ordered by the sender instead.
_CHAT_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "message_reaction",
    "message_reaction_count",
    "chat_member",
    "my_chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)


class BadUpdate(ValueError):
    """The body is not a Telegram update; the message says why (for a 400 and a log line)."""


def parse_update(body: bytes) -> dict[str, Any]:
    """Decode a webhook body: a JSON object with an integer ``update_id``."""
    try:
        update = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise BadUpdate("body is not valid JSON") from None
    if not isinstance(update, dict):
        raise BadUpdate("body is not a JSON object")
    update_id = update.get("update_id")
    # bool is an int subclass; ``true`` is not an update id.
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise BadUpdate("update_id is missing or not an integer")
    return update


def chat_key(update: Mapping[str, Any]) -> int | None:
    """The chat whose updates must be handled in order; None when the update has no owner."""
    for kind in _CHAT_KINDS:
        obj = update.get(kind)
        if isinstance(obj, dict) and isinstance(obj.get("chat"), dict):
            return _int(obj["chat"].get("id"))
    query = update.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return _int(message["chat"].get("id"))
    for value in update.values():
        if isinstance(value, dict) and isinstance(value.get("from"), dict):
            return _int(value["from"].get("id"))  # private chat id == user id
    return None


def user_id(update: Mapping[str, Any]) -> int | None:
    """The sender's id, for log correlation."""
    for value in update.values():
        if isinstance(value, dict):
            sender = value.get("from") or value.get("user")
            if isinstance(sender, dict):
                return _int(sender.get("id"))
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
