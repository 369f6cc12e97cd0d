"""IngestUpdate: the one road from a received Telegram update into the inbox.

The webhook route and the polling sink both end here, so an update is stored and counted the
same way whichever way it came in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.ports.inbox import InboxPort
from core.ports.metrics import MetricsPort, UpdateOrigin


def _nothing() -> None:
    return None


class IngestUpdate:
    """Store an update durably, count it, and nudge whoever drains the inbox.

    ``on_stored`` may be replaced after construction: the webhook starts storing as soon as the
    database is up, before the inbox workers it should wake exist.
    """

    __slots__ = ("_inbox", "_metrics", "on_stored")

    def __init__(
        self,
        inbox: InboxPort,
        metrics: MetricsPort,
        on_stored: Callable[[], None] = _nothing,
    ) -> None:
        self._inbox = inbox
        self._metrics = metrics
        self.on_stored = on_stored

    async def __call__(
        self,
        update_id: int,
        payload: Mapping[str, Any],
        chat_key: int | None,
        source: UpdateOrigin,
    ) -> bool:
        """True when the update was new; False for a repeated delivery (already stored).

        Once this returns the update is durable, so the caller may acknowledge it (answer 200,
        advance the polling offset). A failing store raises and nothing is counted.
        """
        if await self._inbox.store(update_id, payload, chat_key):
            self._metrics.update_ingested(source)
            self.on_stored()
            return True
        self._metrics.update_duplicate(source)
        return False
