"""System clock and identifiers, plus a settable clock for tests and replays."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from core.ports.clock import ClockPort, IdsPort


class SystemClock(ClockPort):
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock(ClockPort):
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


class RandomIds(IdsPort):
    def new_id(self) -> str:
        return uuid.uuid4().hex

    def secret(self) -> str:
        return secrets.token_urlsafe(24)
