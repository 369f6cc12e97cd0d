"""CancelJob: the user takes a job back before it reached the provider."""

from __future__ import annotations

import enum

import attrs

from core.domain.jobs import TERMINAL, JobStatus
from core.domain.ledger import EntryKind
from core.ports.chat import ChatPort
from core.ports.clock import ClockPort
from core.ports.storage import StoragePort


class CancelOutcome(enum.Enum):
    CANCELLED = "cancelled"  # ended, the hold released
    SUBMITTED = "submitted"  # already with the provider: it runs to its end, paid on delivery
    ENDED = "ended"  # already settled (delivered, failed, cancelled before)
    NOT_FOUND = "not_found"  # no such job of this user's: a forged or foreign button


@attrs.define
class CancelJob:
    """Only a queued job can be cancelled: once createTask may have been sent, the provider
    works (and charges us) whatever we do, so the job runs on and is charged only if its
    result reaches the user. The conditional change makes a cancel racing the job runner's
    claim end one way: cancelled and released, or submitted and kept."""

    storage: StoragePort
    chat: ChatPort
    clock: ClockPort

    async def __call__(self, user_id: int, job_id: str) -> CancelOutcome:
        job = await self.storage.get_job(job_id)
        if job is None or job.user_id != user_id:
            return CancelOutcome.NOT_FOUND
        cancelled = await self.storage.settle(
            job_id,
            {JobStatus.QUEUED},
            JobStatus.CANCELLED,
            EntryKind.RELEASE,
            self.clock.now(),
            error="cancelled by the user",
        )
        if cancelled is not None:
            await self.chat.job_cancelled(cancelled)
            return CancelOutcome.CANCELLED
        current = await self.storage.get_job(job_id)
        if current is not None and current.status in TERMINAL:
            return CancelOutcome.ENDED
        return CancelOutcome.SUBMITTED
