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
from core.ports.free_quota import FreeClaim, FreeQuotaPort


class Posted(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


class UsersPort(abc.ABC):
    @abc.abstractmethod
    async def upsert_user(self, user: User) -> tuple[User, bool]:
        """Insert the user or refresh its names; returns the stored user and whether it is new.

        The stored language is kept: users switch it explicitly.
        """

    @abc.abstractmethod
    async def get_user(self, user_id: int) -> User | None: ...

    @abc.abstractmethod
    async def set_language(self, user_id: int, lang: str) -> None: ...


class LedgerPort(abc.ABC):
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


class JobsPort(abc.ABC):
    @abc.abstractmethod
    async def create_job_with_hold(
        self, job: Job, free: FreeClaim | None = None
    ) -> tuple[Job, bool]:
        """Create the job and its hold in one unit of work.

        Idempotent on ``job.confirm_key``: a second call returns the first job and False.
        The outcome fields (``failure``, ``delivery_attempts``…) start empty whatever the
        given job carries.
        Raises ``InsufficientFunds`` (and stores nothing) when the hold does not fit.

        With ``free``, the same unit of work counts the user's uses on ``free.day``: below
        ``free.quota`` the job is stored with price 0 (its hold is zero) and takes one use
        (``FreeQuotaPort.free_use``); otherwise it is stored at ``job.price``. A replay takes
        nothing more. Concurrent confirmations of one user are serialised, so the quota holds.
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
        """Move the job to ``to`` only if it is in one of ``expected``; None when it was not.

        Every ``expected → to`` must be a change ``TRANSITIONS`` allows without money, else
        ``IllegalTransition`` is raised and nothing changes.
        """

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
        """Like ``transition``, plus the hold's capture or release in the same unit of work;
        ``TRANSITIONS`` must pair every ``expected → to`` with that ``resolution``.

        A release also gives the job's free use back (``FreeUse.returned_at``), in that unit
        of work; a capture keeps it taken."""

    @abc.abstractmethod
    async def set_progress_message(self, job_id: str, message_id: int) -> None:
        """Remember the job's progress message, whatever state the job has reached meanwhile
        (not a state change: ``updated_at`` is kept)."""

    @abc.abstractmethod
    async def claim_queued(self, now: datetime, limit: int) -> list[Job]:
        """Move up to ``limit`` queued jobs, oldest first, to SUBMITTING and return them.

        Each job goes to exactly one caller, however many runners in however many processes
        claim at once; rows another caller is claiming are skipped, not waited for.
        """

    @abc.abstractmethod
    async def claim_delivery(
        self, job_id: str, now: datetime, stale_before: datetime
    ) -> Job | None:
        """Claim a succeeded job for sending (or one whose earlier claim went stale)."""

    @abc.abstractmethod
    async def claim_deliveries(
        self, now: datetime, stale_before: datetime, limit: int
    ) -> list[Job]:
        """``claim_delivery`` for up to ``limit`` jobs, oldest first, each to one caller only."""

    @abc.abstractmethod
    async def jobs_in(
        self, statuses: Iterable[JobStatus], updated_before: datetime, limit: int = 100
    ) -> list[Job]:
        """Jobs in these states untouched since ``updated_before``, oldest first."""

    @abc.abstractmethod
    async def user_jobs(self, user_id: int, limit: int = 10, offset: int = 0) -> list[Job]:
        """The user's jobs, newest first (the history screen)."""


class StoragePort(UsersPort, LedgerPort, JobsPort, FreeQuotaPort, abc.ABC):
    """Everything the core persists."""
