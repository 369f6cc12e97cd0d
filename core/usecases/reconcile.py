"""The reconciler: finishes whatever callbacks and handlers left behind (a singleton job)."""

from __future__ import annotations

import logging
from datetime import timedelta

import attrs

from core.domain.jobs import AWAITING_RESULT, JobStatus
from core.ports.clock import Clock
from core.ports.generation import GenerationError, GenerationPort
from core.ports.storage import StoragePort
from core.usecases.generation import ApplyTaskStatus, DeliverResult, FailJob, SubmitJob

log = logging.getLogger(__name__)


@attrs.frozen
class ReconcileReport:
    submitted: int = 0
    polled: int = 0
    expired: int = 0
    delivered: int = 0


@attrs.define
class ReconcileJobs:
    storage: StoragePort
    generation: GenerationPort
    clock: Clock
    submit: SubmitJob
    apply: ApplyTaskStatus
    fail: FailJob
    deliver: DeliverResult
    poll_after: timedelta = timedelta(seconds=0)
    queued_grace: timedelta = timedelta(seconds=30)
    expire_after: timedelta = timedelta(minutes=30)
    delivery_lease: timedelta = timedelta(minutes=5)

    async def run_once(self) -> ReconcileReport:
        now = self.clock.now()
        submitted = polled = expired = delivered = 0

        for job in await self.storage.jobs_in({JobStatus.QUEUED}, now - self.queued_grace):
            await self.submit(job.id)
            submitted += 1

        for job in await self.storage.jobs_in(AWAITING_RESULT, now - self.poll_after):
            if now - job.created_at > self.expire_after:
                if await self.fail(job.id, "timed out", JobStatus.EXPIRED):
                    expired += 1
                continue
            if job.task_id is None:  # ambiguous submit: only a callback or expiry settles it
                continue
            try:
                status = await self.generation.status(job.task_id)
            except GenerationError as exc:
                log.warning("status query failed job_id=%s: %s", job.id, exc)
                continue
            settled = await self.apply(job.id, status)
            polled += 1
            delivered += settled is not None and settled.status is JobStatus.DELIVERED

        for job in await self.storage.jobs_in({JobStatus.SUCCEEDED}, now):
            delivered += await self.deliver(job.id) is not None
        stale = await self.storage.jobs_in({JobStatus.DELIVERING}, now - self.delivery_lease)
        for job in stale:
            delivered += await self.deliver(job.id) is not None
        return ReconcileReport(submitted, polled, expired, delivered)
