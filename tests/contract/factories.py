"""Domain objects for storage tests, with fixed aware timestamps (PostgreSQL keeps µs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.domain.jobs import Job, JobStatus
from core.domain.ledger import EntryKind, LedgerEntry
from core.domain.users import User

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def user(user_id: int = 1, **overrides: Any) -> User:
    values: dict[str, Any] = {"id": user_id, "lang": "en", "created_at": T0, "username": "ann"}
    values.update(overrides)
    return User(**values)


def topup(key: str, user_id: int, amount: int) -> LedgerEntry:
    return LedgerEntry(key, user_id, EntryKind.TOPUP, amount=amount, reason="test")


def job(job_id: str = "j1", user_id: int = 1, price: int = 100, **overrides: Any) -> Job:
    values: dict[str, Any] = {
        "id": job_id,
        "confirm_key": f"confirm:{job_id}",
        "user_id": user_id,
        "chat_id": user_id,
        "lang": "en",
        "model_id": "flux",
        "sku_id": "flux-1k",
        "params": {"prompt": "a cat", "steps": 4, "hd": True},
        "price": price,
        "status": JobStatus.QUEUED,
        "callback_token": f"token-{job_id}",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return Job(**values)
