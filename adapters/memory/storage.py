"""InMemoryStorage: StoragePort with PostgreSQL's uniqueness and atomicity, in a dict."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import attrs

from core.domain.errors import IdempotencyConflict, InsufficientFunds, JobNotFound
from core.domain.jobs import JOB_FIELDS_SETTABLE, Job, JobStatus, check_transition
from core.domain.ledger import Balance, EntryKind, LedgerEntry, capture, hold, release
from core.domain.users import User
from core.ports.free_quota import FreeClaim, FreeUse
from core.ports.storage import Posted, StoragePort


class InMemoryStorage(StoragePort):
    """Every method runs without awaiting, so each is atomic on the event loop."""

    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.ledger: list[LedgerEntry] = []
        self._by_key: dict[str, LedgerEntry] = {}
        self.jobs: dict[str, Job] = {}
        self._confirm_keys: dict[str, str] = {}
        self.free_uses: dict[str, FreeUse] = {}
        """By job id, like the table's primary key: a job takes at most one use."""

    async def upsert_user(self, user: User) -> tuple[User, bool]:
        existing = self.users.get(user.id)
        if existing is None:
            self.users[user.id] = user
            return user, True
        refreshed = attrs.evolve(existing, username=user.username, first_name=user.first_name)
        self.users[user.id] = refreshed
        return refreshed, False

    async def get_user(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    async def set_language(self, user_id: int, lang: str) -> None:
        user = self.users.get(user_id)
        if user is not None:
            self.users[user_id] = attrs.evolve(user, lang=lang)

    async def post(self, entry: LedgerEntry) -> Posted:
        return self._post(entry)

    def _post(self, entry: LedgerEntry) -> Posted:
        previous = self._by_key.get(entry.key)
        if previous is not None:
            if previous.same_command(entry):
                return Posted.DUPLICATE
            raise IdempotencyConflict(entry.key)
        if entry.debits_available:
            available = self._balance(entry.user_id).available
            if available + entry.amount - entry.held < 0:
                raise InsufficientFunds(available, entry.held - entry.amount)
        self._by_key[entry.key] = entry
        self.ledger.append(entry)
        return Posted.APPLIED

    def _balance(self, user_id: int) -> Balance:
        return Balance.of([e for e in self.ledger if e.user_id == user_id])

    async def balance(self, user_id: int) -> Balance:
        return self._balance(user_id)

    async def entries(self, user_id: int, limit: int = 10) -> list[LedgerEntry]:
        return [e for e in reversed(self.ledger) if e.user_id == user_id][:limit]

    async def create_job_with_hold(
        self, job: Job, free: FreeClaim | None = None
    ) -> tuple[Job, bool]:
        existing_id = self._confirm_keys.get(job.confirm_key)
        if existing_id is not None:
            return self.jobs[existing_id], False
        if job.id in self.jobs:
            raise IdempotencyConflict(job.id)
        is_free = free is not None and self._free_used(job.user_id, free.day) < free.quota
        if is_free:
            job = attrs.evolve(job, price=0)
        self._post(hold(job.id, job.user_id, job.price))
        # Like the table's defaults: a confirmed job has no outcome yet.
        job = attrs.evolve(
            job, failure=None, failure_reason=None, submit_ambiguous_at=None, delivery_attempts=0
        )
        self.jobs[job.id] = job
        self._confirm_keys[job.confirm_key] = job.id
        if free is not None and is_free:
            self.free_uses[job.id] = FreeUse(job.id, job.user_id, free.day, job.created_at)
        return job, True

    def _free_used(self, user_id: int, day: date) -> int:
        return sum(
            1
            for u in self.free_uses.values()
            if u.user_id == user_id and u.day == day and not u.returned
        )

    async def free_used(self, user_id: int, day: date) -> int:
        return self._free_used(user_id, day)

    async def free_use(self, job_id: str) -> FreeUse | None:
        return self.free_uses.get(job_id)

    async def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def _transition(
        self,
        job_id: str,
        expected: Iterable[JobStatus],
        to: JobStatus,
        now: datetime,
        changes: dict[str, Any],
    ) -> Job | None:
        _check_changes(changes)
        check_transition(expected, to)
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.status not in set(expected):
            return None
        self._check_task_id(job_id, changes)
        return self._move(job, to, now, changes)

    def _check_task_id(self, job_id: str, changes: dict[str, Any]) -> None:
        task_id = changes.get("task_id")
        if task_id is not None and any(
            j.task_id == task_id and j.id != job_id for j in self.jobs.values()
        ):
            raise IdempotencyConflict(task_id)  # a Kie.ai task belongs to one job (UNIQUE)

    async def transition(
        self,
        job_id: str,
        expected: Iterable[JobStatus],
        to: JobStatus,
        now: datetime,
        **changes: Any,
    ) -> Job | None:
        return self._transition(job_id, expected, to, now, changes)

    async def settle(
        self,
        job_id: str,
        expected: Iterable[JobStatus],
        to: JobStatus,
        resolution: EntryKind,
        now: datetime,
        **changes: Any,
    ) -> Job | None:
        if resolution not in (EntryKind.CAPTURE, EntryKind.RELEASE):
            raise ValueError(f"a hold resolves by capture or release, not {resolution}")
        _check_changes(changes)  # before posting, so a bad call changes nothing
        check_transition(expected, to, resolution)
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.status not in set(expected):
            return None
        self._check_task_id(job_id, changes)
        make = capture if resolution is EntryKind.CAPTURE else release
        self._post(make(job.id, job.user_id, job.price))
        use = self.free_uses.get(job.id)
        if resolution is EntryKind.RELEASE and use is not None and not use.returned:
            self.free_uses[job.id] = attrs.evolve(use, returned_at=now)
        return self._move(job, to, now, changes)

    def _move(self, job: Job, to: JobStatus, now: datetime, changes: dict[str, Any]) -> Job:
        updated = attrs.evolve(job, status=to, updated_at=now, **changes)
        self.jobs[job.id] = updated
        return updated

    async def set_progress_message(self, job_id: str, message_id: int) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        self.jobs[job_id] = attrs.evolve(job, progress_message_id=message_id)

    async def claim_queued(self, now: datetime, limit: int) -> list[Job]:
        queued = await self.jobs_in({JobStatus.QUEUED}, now, limit=max(limit, 0))
        return [self._move(j, JobStatus.SUBMITTING, now, {}) for j in queued]

    async def claim_deliveries(
        self, now: datetime, stale_before: datetime, limit: int
    ) -> list[Job]:
        due = [
            j
            for j in self.jobs.values()
            if j.status is JobStatus.SUCCEEDED
            or (j.status is JobStatus.DELIVERING and j.updated_at < stale_before)
        ]
        due.sort(key=lambda j: j.updated_at)
        return [self._move(j, JobStatus.DELIVERING, now, {}) for j in due[: max(limit, 0)]]

    async def claim_delivery(
        self, job_id: str, now: datetime, stale_before: datetime
    ) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        stale = job.status is JobStatus.DELIVERING and job.updated_at < stale_before
        if job.status is not JobStatus.SUCCEEDED and not stale:
            return None
        return self._move(job, JobStatus.DELIVERING, now, {})

    async def jobs_in(
        self, statuses: Iterable[JobStatus], updated_before: datetime, limit: int = 100
    ) -> list[Job]:
        wanted = set(statuses)
        found = [
            j for j in self.jobs.values() if j.status in wanted and j.updated_at <= updated_before
        ]
        return sorted(found, key=lambda j: j.updated_at)[:limit]

    async def user_jobs(self, user_id: int, limit: int = 10, offset: int = 0) -> list[Job]:
        mine = [j for j in self.jobs.values() if j.user_id == user_id]
        mine.sort(key=lambda j: j.created_at, reverse=True)
        return mine[offset : offset + limit]


def _check_changes(changes: dict[str, Any]) -> None:
    unknown = set(changes) - JOB_FIELDS_SETTABLE
    if unknown:
        raise ValueError(f"cannot set {sorted(unknown)} on a job")
