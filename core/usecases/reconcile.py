"""The reconciler: finishes whatever callbacks and handlers left behind (a singleton job)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import attrs

from core.domain.catalog import Catalog
from core.domain.errors import UnknownModel
from core.domain.jobs import AWAITING_RESULT, Job, JobStatus
from core.ports.callbacks import CallbackStore
from core.ports.clock import Clock
from core.ports.generation import GenerationError, GenerationPort
from core.ports.storage import StoragePort
from core.usecases.generation import ApplyTaskStatus, DeliverResult, FailJob, SubmitJob

log = logging.getLogger(__name__)


def poll_interval(age: timedelta) -> timedelta:
    """kie-api.md §1.3: every 2–3 s for the first 30 s, 5–10 s, then 15–30 s after 2 min."""
    if age < timedelta(seconds=30):
        return timedelta(seconds=3)
    if age < timedelta(minutes=2):
        return timedelta(seconds=10)
    return timedelta(seconds=30)


# Give up per category (kie-api.md §10.5: ~15 min images, 30–60 min video).
EXPIRY_BY_CATEGORY: Mapping[str, timedelta] = {
    "image": timedelta(minutes=15),
    "image_edit": timedelta(minutes=15),
    "upscale": timedelta(minutes=20),
    "audio": timedelta(minutes=30),
    "video": timedelta(minutes=60),
}


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
    callbacks: CallbackStore | None = None
    process_callbacks: Callable[[str], Awaitable[object]] | None = None
    catalog: Catalog | None = None
    """With a catalog, jobs expire on EXPIRY_BY_CATEGORY instead of ``expire_after``."""
    _polled: dict[str, datetime] = attrs.field(factory=dict, init=False)

    def _expiry(self, job: Job) -> timedelta:
        if self.catalog is None:
            return self.expire_after
        try:
            category = self.catalog.get(job.model_id).category.value
        except UnknownModel:
            return self.expire_after
        return EXPIRY_BY_CATEGORY.get(category, self.expire_after)

    def _due(self, job: Job, now: datetime) -> bool:
        last = self._polled.get(job.id)
        return last is None or now - last >= poll_interval(now - job.created_at)

    async def run_once(self) -> ReconcileReport:
        now = self.clock.now()
        submitted = polled = expired = delivered = 0

        # Stored callbacks first: the background step after the 200 may have died.
        if self.callbacks is not None and self.process_callbacks is not None:
            for job_id in await self.callbacks.jobs_with_pending():
                await self.process_callbacks(job_id)

        for job in await self.storage.jobs_in({JobStatus.QUEUED}, now - self.queued_grace):
            await self.submit(job.id)
            submitted += 1

        for job in await self.storage.jobs_in(AWAITING_RESULT, now - self.poll_after):
            if now - job.created_at > self._expiry(job):
                if await self.fail(job.id, "timed out", JobStatus.EXPIRED):
                    expired += 1
                self._polled.pop(job.id, None)
                continue
            if job.task_id is None:  # ambiguous submit: only a callback or expiry settles it
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
            delivered += settled is not None and settled.status is JobStatus.DELIVERED

        for job in await self.storage.jobs_in({JobStatus.SUCCEEDED}, now):
            delivered += await self.deliver(job.id) is not None
        stale = await self.storage.jobs_in({JobStatus.DELIVERING}, now - self.delivery_lease)
        for job in stale:
            delivered += await self.deliver(job.id) is not None
        return ReconcileReport(submitted, polled, expired, delivered)
