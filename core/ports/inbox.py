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


class InboxUnavailable(Exception):
    """Claims are refused: this claimer's liveness is not established (database unreachable)."""


class InboxPort(abc.ABC):
    """Per-chat FIFO with at-least-once hand-off.

    An update is claimable only when no earlier update of its chat is still pending (neither
    processed nor parked), so one chat never has two updates in flight.

    Each inbox object is one claimer with a liveness the store can see (in PostgreSQL, a session
    advisory lock on a connection of its own). A claim is tied to both that liveness and a lease,
    and is free to others as soon as either ends:

    * the claimer dies or ``close()``s: its claims are free at once, whatever their lease;
    * the claimer is alive but stops renewing (hung): its claims are free when the lease ends;
    * the claimer is alive and calls ``renew`` more often than the lease: its claims are never
      free, however long the handler takes, so a slow live handler is never run twice.

    Outcomes (``retry_later``, ``park``, ``release``) only apply to claims this object still
    holds: a claimer that lost an update to another one cannot undo that one's claim.
    """

    @abc.abstractmethod
    async def start(self) -> None:
        """Establish this claimer's liveness now; ``claim`` and ``renew`` also do it on demand."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End this claimer's liveness: the claims it still holds are free to others at once."""

    @abc.abstractmethod
    async def renew(self, lease_seconds: float) -> int:
        """Extend to ``lease_seconds`` from now the lease of every update this object claimed
        and has not recorded an outcome for; returns how many were still its to extend."""

    @abc.abstractmethod
    async def store(
        self, update_id: int, payload: Mapping[str, Any], chat_key: int | None
    ) -> bool:
        """Persist the update durably; False when ``update_id`` was already stored (no-op)."""

    @abc.abstractmethod
    async def claim(self, limit: int, lease_seconds: float) -> list[InboxItem]:
        """Claim up to ``limit`` processable updates, oldest first, leased ``lease_seconds``.

        Raises ``InboxUnavailable`` while this claimer's liveness cannot be established.
        """

    @abc.abstractmethod
    async def mark_processed(self, update_id: int) -> None:
        """The handler succeeded: the update is done (recorded even if the claim was lost)."""

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
