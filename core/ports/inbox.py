"""InboxPort: the durable queue every Telegram update passes through before a handler sees it."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs


class MalformedUpdate(Exception):
    """A stored update no handler can ever accept: parked at once, never retried."""


@attrs.frozen
class InboxItem:
    """A claimed update; ``attempts`` counts the failures recorded before this claim."""

    update_id: int
    chat_key: int | None
    payload: Mapping[str, Any]
    attempts: int = 0


@attrs.frozen
class ParkedUpdate:
    update_id: int
    chat_key: int | None
    attempts: int
    last_error: str
    parked_at: datetime


class InboxPort(abc.ABC):
    """Per-chat FIFO with at-least-once hand-off.

    An update is claimable only when no earlier update of its chat is still pending (neither
    processed nor parked), so one chat never has two updates in flight. A claim is a lease:
    if the claimer dies, the update becomes claimable again when the lease ends.
    """

    @abc.abstractmethod
    async def store(
        self, update_id: int, payload: Mapping[str, Any], chat_key: int | None
    ) -> bool:
        """Persist the update durably; False when ``update_id`` was already stored (no-op)."""

    @abc.abstractmethod
    async def claim(self, limit: int, lease_seconds: float) -> list[InboxItem]:
        """Lease up to ``limit`` processable updates, oldest first."""

    @abc.abstractmethod
    async def mark_processed(self, update_id: int) -> None:
        """The handler succeeded: the update is done."""

    @abc.abstractmethod
    async def retry_later(self, update_id: int, error: str, delay_seconds: float) -> None:
        """Count a failed attempt; claimable again after ``delay_seconds``."""

    @abc.abstractmethod
    async def park(self, update_id: int, error: str) -> None:
        """Count a failed attempt and give up: kept for an admin, no longer blocks its chat."""

    @abc.abstractmethod
    async def release(self, update_ids: list[int]) -> None:
        """Give back leases without counting an attempt (shutdown before handling)."""

    @abc.abstractmethod
    async def parked(self, limit: int = 20) -> list[ParkedUpdate]:
        """The most recently parked updates, newest first."""

    @abc.abstractmethod
    async def depth(self) -> int:
        """How many updates are pending (neither processed nor parked)."""

    @abc.abstractmethod
    async def purge_processed(self, older_than_seconds: float) -> int:
        """Delete processed updates older than that; returns how many went."""


def backoff_seconds(attempts: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Delay before the next attempt after ``attempts`` failures: 1, 2, 4, … capped."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))
