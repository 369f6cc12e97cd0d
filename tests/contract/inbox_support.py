"""Inbox test helpers shared by the contract suite and the adapter-specific inbox tests."""

from __future__ import annotations

from typing import Any

from core.ports.inbox import InboxPort


def upd(update_id: int, chat: int | None = 1) -> dict[str, Any]:
    """A Telegram update with the given id, from the given chat (None: no chat at all)."""
    return {"update_id": update_id, "message": {"chat": {"id": chat}, "text": f"u{update_id}"}}


async def ids(inbox: InboxPort, limit: int = 10, lease: float = 60.0) -> list[int]:
    """The update ids one claim returns."""
    return [item.update_id for item in await inbox.claim(limit, lease)]
