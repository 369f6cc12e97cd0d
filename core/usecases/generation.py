"""Confirm, submit, settle and deliver a generation job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

import attrs

from core.domain.catalog import Catalog
from core.domain.errors import IdempotencyConflict, UnknownModel
from core.domain.jobs import (
    AWAITING_RESULT,
    HAS_TASK,
    RELEASABLE,
    FailureKind,
    Job,
    JobStatus,
)
from core.domain.ledger import EntryKind
from core.domain.money import Pricing
from core.ports.chat import ChatPort, Progress
from core.ports.clock import ClockPort, IdsPort
from core.ports.generation import (
    GenerationError,
    GenerationPort,
    GenerationRejected,
    TaskRequest,
    TaskState,
    TaskStatus,
)
from core.ports.media import Downloaded, DownloaderPort, DownloadError, TooLarge
from core.ports.storage import StoragePort
from core.usecases.free_tier import FreeTier

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@attrs.frozen
class Confirmation:
    job: Job
    created: bool


@attrs.define
class ConfirmGeneration:
    """Validate, price, and create the job with its hold in one unit of work.

    On a SKU the free tier covers, the same unit of work takes one of the user's free
    generations for the day when one is left (the job's price is then 0) and charges the
    price otherwise; a replayed confirmation takes nothing more.
    """

    storage: StoragePort
    catalog: Catalog
    pricing: Pricing
    clock: ClockPort
    ids: IdsPort
    free_tier: FreeTier | None = None

    async def __call__(
        self,
        *,
        confirm_key: str,
        user_id: int,
        chat_id: int,
        lang: str,
        model_id: str,
        params: Mapping[str, Any],
    ) -> Confirmation:
        model = self.catalog.get(model_id)
        clean = model.validate(params)
        model.kie_input(clean)  # the provider input must build before any money is held
        sku = model.sku_for(clean)
        now = self.clock.now()
        job = Job(
            id=self.ids.new_id(),
            confirm_key=confirm_key,
            user_id=user_id,
            chat_id=chat_id,
            lang=lang,
            model_id=model.id,
            sku_id=sku.id,
            params=clean,
            price=sku.price_in(self.pricing),
            status=JobStatus.QUEUED,
            callback_token=self.ids.secret(),
            created_at=now,
            updated_at=now,
        )
        free = self.free_tier.claim(now) if self.free_tier and self.free_tier.covers(sku) else None
        stored, created = await self.storage.create_job_with_hold(job, free)
        return Confirmation(stored, created)


@attrs.define
class FailJob:
    """Release the hold, end the job, tell the user; a no-op once the job has settled.

    The user gets one sentence for ``kind`` (plus ``reason`` for a rejected input); the
    ``detail`` goes to the log and the job's ``error``, never to the chat.
    """

    storage: StoragePort
    chat: ChatPort
    clock: ClockPort

    async def __call__(
        self,
        job_id: str,
        kind: FailureKind,
        detail: str,
        *,
        reason: str | None = None,
        status: JobStatus = JobStatus.FAILED,
        expected: Iterable[JobStatus] = RELEASABLE,
    ) -> Job | None:
        job = await self.storage.settle(
            job_id,
            expected,
            status,
            EntryKind.RELEASE,
            self.clock.now(),
            error=detail,
            failure=kind,
            failure_reason=reason,
        )
        if job is not None:
            log.warning("job failed job_id=%s kind=%s: %s", job.id, kind.value, detail)
            await self.chat.job_failed(job)
        return job


@attrs.define
class SubmitJob:
    """Call createTask exactly once for a job claimed out of QUEUED."""

    storage: StoragePort
    generation: GenerationPort
    catalog: Catalog
    clock: ClockPort
    fail: FailJob
    chat: ChatPort
    callback_base: str | None = None
    on_submitted: Callable[[str], Awaitable[object]] | None = None
    """Applies callbacks that arrived before createTask answered (they are stored)."""

    def callback_url(self, job: Job) -> str | None:
        if not self.callback_base:
            return None
        return f"{self.callback_base.rstrip('/')}/kie/callback/{job.id}/{job.callback_token}"

    async def __call__(self, job_id: str) -> Job | None:
        """Claim one queued job and submit it (the runner claims in batches instead)."""
        job = await self.storage.transition(
            job_id, {JobStatus.QUEUED}, JobStatus.SUBMITTING, self.clock.now()
        )
        if job is None:  # another runner claimed it, or the reconciler released it
            return await self.storage.get_job(job_id)
        return await self.submit_claimed(job)

    async def submit_claimed(self, job: Job) -> Job | None:
        """createTask for a job this caller moved to SUBMITTING."""
        try:
            model = self.catalog.get(job.model_id)
        except UnknownModel:
            return await self.fail(job.id, FailureKind.NOT_SUBMITTED, "model left the catalog")
        request = TaskRequest(job.id, model, job.params, self.callback_url(job))
        try:
            task_id = await self.generation.submit(request)
        except GenerationRejected as exc:
            return await self.fail(
                job.id, exc.kind, str(exc) or type(exc).__name__, reason=exc.reason
            )
        except GenerationError as exc:
            # Ambiguous (or an error that does not say the task was refused): the task may
            # exist, so never resubmit. A callback settles it, or the bounded wait releases it.
            return await self.record_ambiguous(job, str(exc) or type(exc).__name__)
        submitted = await self.storage.transition(
            job.id, {JobStatus.SUBMITTING}, JobStatus.SUBMITTED, self.clock.now(), task_id=task_id
        )
        after = await self._after(job.id)
        if submitted is not None and after is not None and after.status in AWAITING_RESULT:
            # Still waiting for the result (a fast callback may have settled it already):
            # the progress message loses its Cancel button and says the provider has it.
            await self.chat.job_progress(after, Progress.SUBMITTED)
        return after

    async def record_ambiguous(self, job: Job, detail: str) -> Job | None:
        """createTask's answer is lost: record when, apply any stored callback, and tell the
        user the outcome is being checked if nothing settled it meanwhile."""
        marked = await self.storage.transition(
            job.id,
            {JobStatus.SUBMITTING},
            JobStatus.SUBMITTING,
            self.clock.now(),
            submit_ambiguous_at=self.clock.now(),
            error=detail,
        )
        if marked is None:  # settled meanwhile
            return await self.storage.get_job(job.id)
        log.warning("createTask outcome unknown job_id=%s: %s", job.id, detail)
        after = await self._after(job.id)
        if after is not None and after.status is JobStatus.SUBMITTING and after.task_id is None:
            await self.chat.job_progress(after, Progress.CHECKING)
        return after

    async def _after(self, job_id: str) -> Job | None:
        if self.on_submitted is not None:
            await self.on_submitted(job_id)
        return await self.storage.get_job(job_id)


@attrs.define
class DeliverResult:
    """Claim a produced result, fetch its files, send them, and only then capture the price.

    A download that fails is retried within seconds (``backoff``, doubling, ``max_attempts``
    in all); when it keeps failing the hold is released and the user told. A file over
    ``max_bytes`` (Telegram's upload limit) is handed over as its link, which counts as
    delivered. A crash mid-send leaves a claim that goes stale after ``claim_lease`` and is
    sent again: a result may be resent, never lost, and paid once.
    """

    storage: StoragePort
    downloader: DownloaderPort
    chat: ChatPort
    clock: ClockPort
    fail: FailJob
    max_bytes: int = 50 * 1024 * 1024
    claim_lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 4
    backoff: float = 2.0
    sleep: Sleep = asyncio.sleep

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after the n-th failed download: 2, 4, 8… by default."""
        return float(self.backoff * 2 ** max(0, failures - 1))

    async def __call__(self, job_id: str) -> Job | None:
        now = self.clock.now()
        job = await self.storage.claim_delivery(job_id, now, now - self.claim_lease)
        if job is None:
            return None
        return await self.deliver_claimed(job)

    async def deliver_claimed(self, job: Job) -> Job | None:
        """Deliver a job this caller moved to DELIVERING."""
        await self.chat.job_progress(job, Progress.FETCHING)
        fetched = await self._fetch_all(job)
        if isinstance(fetched, DownloadError):
            return await self._undeliverable(job, f"result download failed: {fetched}")
        files, links = fetched
        sent = [(f.filename, f.content, f.mime) for f in files]
        if not await self.chat.deliver(job, sent, links):
            return await self._undeliverable(job, "the chat cannot receive messages")
        return await self.storage.settle(
            job.id,
            {JobStatus.DELIVERING},
            JobStatus.DELIVERED,
            EntryKind.CAPTURE,
            self.clock.now(),
        )

    async def _fetch_all(self, job: Job) -> tuple[list[Downloaded], list[str]] | DownloadError:
        """Every file (or its URL when it is too large to upload), or the last download error
        once ``max_attempts`` downloads of this job failed."""
        failures = job.delivery_attempts
        files: list[Downloaded] = []
        links: list[str] = []
        for result in job.result:
            while True:
                try:
                    files.append(await self.downloader.download(result.url, self.max_bytes))
                    break
                except TooLarge:
                    links.append(result.url)
                    break
                except DownloadError as exc:
                    failures += 1
                    log.warning(
                        "result download failed job_id=%s attempt=%d/%d: %s",
                        job.id,
                        failures,
                        self.max_attempts,
                        exc,
                    )
                    # Counting refreshes the claim, so retrying never outlives its lease.
                    recorded = await self.storage.transition(
                        job.id,
                        {JobStatus.DELIVERING},
                        JobStatus.DELIVERING,
                        self.clock.now(),
                        delivery_attempts=failures,
                        error=str(exc),
                    )
                    if recorded is None or failures >= self.max_attempts:
                        return exc
                    await self.sleep(self.delay_after(failures))
        return files, links

    async def _undeliverable(self, job: Job, detail: str) -> Job | None:
        try:
            return await self.fail(
                job.id, FailureKind.UNDELIVERABLE, detail, expected={JobStatus.DELIVERING}
            )
        except IdempotencyConflict:
            # Only a job whose price was captured when its task succeeded (before capture
            # waited for delivery) gets here. The capture stands (settling replays it as a
            # no-op), so the job ends as those did, with the failure recorded for operators.
            log.error("undeliverable result was already paid for job_id=%s: %s", job.id, detail)
            return await self.storage.settle(
                job.id,
                {JobStatus.DELIVERING},
                JobStatus.DELIVERED,
                EntryKind.CAPTURE,
                self.clock.now(),
                failure=FailureKind.UNDELIVERABLE,
                error=detail,
            )


@attrs.define
class ApplyTaskStatus:
    """Drive a job from the provider's report; callbacks and polling both come here.

    A success only records the result and wakes the runner, which delivers it; the money is
    captured once the result reached the user.
    """

    storage: StoragePort
    clock: ClockPort
    fail: FailJob
    on_succeeded: Callable[[], None] = lambda: None

    async def __call__(self, job_id: str, status: TaskStatus) -> Job | None:
        now = self.clock.now()
        if status.state is TaskState.SUCCEEDED:
            if not status.files:
                return await self.fail(
                    job_id, FailureKind.PROVIDER_ERROR, "success reported without a result"
                )
            job = await self.storage.transition(
                job_id, HAS_TASK, JobStatus.SUCCEEDED, now, result=status.files, error=None
            )
            if job is not None:
                self.on_succeeded()
            return job
        if status.state is TaskState.FAILED:
            return await self.fail(
                job_id,
                status.failure,
                status.error or "generation failed",
                reason=status.reason,
            )
        if status.state is TaskState.RUNNING:
            return await self.storage.transition(
                job_id, {JobStatus.SUBMITTED}, JobStatus.RUNNING, now
            )
        return None
