"""The reconciler: finishes whatever callbacks and the job runner left behind (a singleton).

It applies stored callbacks whose after-response step died, polls the provider for jobs
awaiting a result, ends jobs that waited too long (releasing their hold), and bounds the wait of a
job whose createTask answer was lost. Submitting and delivering are the job runner's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import attrs

from core.domain.catalog import Catalog, CategoryTimes
from core.domain.errors import UnknownModel
from core.domain.jobs import AWAITING_RESULT, FailureKind, Job, JobStatus
from core.ports.callbacks import CallbackStorePort
from core.ports.clock import ClockPort
from core.ports.generation import GenerationError, GenerationPort
from core.ports.storage import StoragePort
from core.usecases.generation import ApplyTaskStatus, FailJob, SubmitJob

log = logging.getLogger(__name__)


def poll_interval(age: timedelta) -> timedelta:
    """Often while a fast result is likely, then less and less: 3 s, 10 s, then 30 s."""
    if age < timedelta(seconds=30):
        return timedelta(seconds=3)
    if age < timedelta(minutes=2):
        return timedelta(seconds=10)
    return timedelta(seconds=30)


@attrs.frozen
class ReconcileReport:
    polled: int = 0
    expired: int = 0
    stalled: int = 0
    """Submissions found hanging (their process stopped): now waiting for a confirmation."""
    unconfirmed: int = 0
    """Jobs released because nothing confirmed their task within the category's wait."""
    unsubmitted: int = 0
    """Jobs released because no runner took them out of the queue in time."""


@attrs.define
class ReconcileJobs:
    storage: StoragePort
    generation: GenerationPort
    clock: ClockPort
    submit: SubmitJob
    apply: ApplyTaskStatus
    fail: FailJob
    poll_after: timedelta = timedelta(seconds=0)
    expire_after: timedelta = timedelta(minutes=30)
    """How long a task may run, for a job whose model is not in the catalog."""
    unconfirmed_after: timedelta = timedelta(minutes=5)
    """How long a lost createTask answer waits for a confirmation, likewise."""
    stall_after: timedelta = timedelta(minutes=2)
    """A submission older than this without an answer recorded was cut off mid-call (well
    beyond createTask's own timeout): its outcome is treated as unknown."""
    queued_timeout: timedelta = timedelta(minutes=10)
    """A queued job no runner claimed within this is released (no runner is running)."""
    callbacks: CallbackStorePort | None = None
    process_callbacks: Callable[[str], Awaitable[object]] | None = None
    catalog: Catalog | None = None
    """With a catalog, each job waits as long as its model's category allows."""
    _polled: dict[str, datetime] = attrs.field(factory=dict, init=False)

    def _times(self, job: Job) -> CategoryTimes | None:
        if self.catalog is None:
            return None
        try:
            return self.catalog.times_of(self.catalog.get(job.model_id).category)
        except UnknownModel:
            return None

    def _expiry(self, job: Job) -> timedelta:
        times = self._times(job)
        return times.expiry if times else self.expire_after

    def _unconfirmed_wait(self, job: Job) -> timedelta:
        times = self._times(job)
        return times.unconfirmed if times else self.unconfirmed_after

    def _due(self, job: Job, now: datetime) -> bool:
        last = self._polled.get(job.id)
        return last is None or now - last >= poll_interval(now - job.created_at)

    async def run_once(self) -> ReconcileReport:
        now = self.clock.now()
        polled = expired = stalled = unconfirmed = unsubmitted = 0

        # Stored callbacks first: the background step after the 200 may have died.
        if self.callbacks is not None and self.process_callbacks is not None:
            for job_id in await self.callbacks.jobs_with_pending():
                await self.process_callbacks(job_id)

        for job in await self.storage.jobs_in({JobStatus.QUEUED}, now - self.queued_timeout):
            unsubmitted += bool(
                await self.fail(job.id, FailureKind.NOT_SUBMITTED, "never taken from the queue")
            )

        for job in await self.storage.jobs_in(AWAITING_RESULT, now - self.poll_after):
            if job.task_id is None:
                outcome = await self._without_task(job, now)
                stalled += outcome == "stalled"
                unconfirmed += outcome == "unconfirmed"
                continue
            if now - job.created_at > self._expiry(job):
                expired += bool(
                    await self.fail(
                        job.id,
                        FailureKind.TIMED_OUT,
                        f"no result after {self._expiry(job)}",
                        status=JobStatus.EXPIRED,
                    )
                )
                self._polled.pop(job.id, None)
                continue
            if not self._due(job, now):
                continue
            self._polled[job.id] = now
            try:
                status = await self.generation.status(job.task_id)
            except GenerationError as exc:
                log.warning("status query failed job_id=%s: %s", job.id, exc)
                continue
            settled = await self.apply(job.id, status)
            polled += 1
            if settled is not None and settled.status not in AWAITING_RESULT:
                self._polled.pop(job.id, None)
        return ReconcileReport(polled, expired, stalled, unconfirmed, unsubmitted)

    async def _without_task(self, job: Job, now: datetime) -> str | None:
        """A submitting job with no task: only a callback can name its task, so wait for one,
        but not longer than the category allows."""
        if job.submit_ambiguous_at is None:
            if now - job.updated_at < self.stall_after:
                return None  # createTask is still in flight
            await self.submit.record_ambiguous(job, "no createTask answer was recorded")
            return "stalled"
        wait = self._unconfirmed_wait(job)
        if now - job.submit_ambiguous_at <= wait:
            return None
        released = await self.fail(
            job.id, FailureKind.UNCONFIRMED, f"no sign of the task within {wait} of a lost answer"
        )
        return "unconfirmed" if released else None
