"""StoragePort: users, the ledger and jobs, with the atomic commands the money rules need."""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.domain.jobs import Job, JobStatus
from core.domain.ledger import Balance, EntryKind, LedgerEntry
from core.domain.users import User


class Posted(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


class UsersStore(abc.ABC):
    @abc.abstractmethod
    async def upsert_user(self, user: User) -> tuple[User, bool]:
        """Insert the user or refresh its names; returns the stored user and whether it is new.

        The stored language is kept: users switch it explicitly.
        """

    @abc.abstractmethod
    async def get_user(self, user_id: int) -> User | None: ...

    @abc.abstractmethod
    async def set_language(self, user_id: int, lang: str) -> None: ...


class LedgerStore(abc.ABC):
    @abc.abstractmethod
    async def post(self, entry: LedgerEntry) -> Posted:
        """Append one entry, idempotent on ``entry.key``.

        Replaying the same command is a no-op (``DUPLICATE``); the same key with other
        parameters raises ``IdempotencyConflict``; an entry that would take the available
        balance below zero raises ``InsufficientFunds`` and changes nothing.
        """

    @abc.abstractmethod
    async def balance(self, user_id: int) -> Balance: ...

    @abc.abstractmethod
    async def entries(self, user_id: int, limit: int = 10) -> list[LedgerEntry]:
        """The user's newest entries first."""


class JobsStore(abc.ABC):
    @abc.abstractmethod
    async def create_job_with_hold(self, job: Job) -> tuple[Job, bool]:
        """Create the job and its hold in one unit of work.

        Idempotent on ``job.confirm_key``: a second call returns the first job and False.
        Raises ``InsufficientFunds`` (and stores nothing) when the hold does not fit.
        """

    @abc.abstractmethod
    async def get_job(self, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    async def transition(
        self,
        job_id: str,
        expected: Iterable[JobStatus],
        to: JobStatus,
        now: datetime,
        **changes: Any,
    ) -> Job | None:
        """Move the job to ``to`` only if it is in one of ``expected``; None when it was not."""

    @abc.abstractmethod
    async def settle(
        self,
        job_id: str,
        expected: Iterable[JobStatus],
        to: JobStatus,
        resolution: EntryKind,
        now: datetime,
        **changes: Any,
    ) -> Job | None:
        """Like ``transition``, plus the hold's capture or release in the same unit of work."""

    @abc.abstractmethod
    async def claim_delivery(
        self, job_id: str, now: datetime, stale_before: datetime
    ) -> Job | None:
        """Claim a succeeded job for sending (or one whose earlier claim went stale)."""

    @abc.abstractmethod
    async def jobs_in(
        self, statuses: Iterable[JobStatus], updated_before: datetime, limit: int = 100
    ) -> list[Job]:
        """Jobs in these states untouched since ``updated_before``, oldest first."""

    @abc.abstractmethod
    async def user_jobs(self, user_id: int, limit: int = 10, offset: int = 0) -> list[Job]:
        """The user's jobs, newest first."""


class StoragePort(UsersStore, LedgerStore, JobsStore, abc.ABC):
    """Everything the core persists."""
