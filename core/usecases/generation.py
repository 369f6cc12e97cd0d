"""Confirm, submit, settle and deliver a generation job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import attrs

from core.domain.catalog import Catalog
from core.domain.jobs import AWAITING_RESULT, RELEASABLE, Job, JobStatus
from core.domain.ledger import EntryKind
from core.domain.money import Pricing
from core.ports.chat import ChatPort
from core.ports.clock import Clock, IdGenerator
from core.ports.generation import (
    GenerationAmbiguous,
    GenerationError,
    GenerationPort,
    GenerationRejected,
    TaskRequest,
    TaskState,
    TaskStatus,
)
from core.ports.media import Downloaded, DownloadError, MediaDownloader, TooLarge
from core.ports.storage import StoragePort

AMBIGUOUS_SUBMIT = "ambiguous submit"
DOWNLOAD_ATTEMPT = "download attempt "


def download_attempts(error: str | None) -> int:
    """How many deliveries already failed, as recorded in the job's error (no extra column)."""
    if not error or not error.startswith(DOWNLOAD_ATTEMPT):
        return 0
    number = error[len(DOWNLOAD_ATTEMPT) :].split(":", 1)[0]
    return int(number) if number.isdigit() else 0


@attrs.frozen
class Confirmation:
    job: Job
    created: bool


@attrs.define
class ConfirmGeneration:
    """Validate, price, and create the job with its hold in one unit of work."""

    storage: StoragePort
    catalog: Catalog
    pricing: Pricing
    clock: Clock
    ids: IdGenerator

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
        stored, created = await self.storage.create_job_with_hold(job)
        return Confirmation(stored, created)


@attrs.define
class FailJob:
    """Release the hold, end the job, tell the user; a no-op once the job has settled."""

    storage: StoragePort
    chat: ChatPort
    clock: Clock

    async def __call__(
        self, job_id: str, reason: str, status: JobStatus = JobStatus.FAILED
    ) -> Job | None:
        job = await self.storage.settle(
            job_id, RELEASABLE, status, EntryKind.RELEASE, self.clock.now(), error=reason
        )
        if job is not None:
            await self.chat.job_failed(job, reason)
        return job


@attrs.define
class SubmitJob:
    """Call createTask exactly once for a queued job."""

    storage: StoragePort
    generation: GenerationPort
    catalog: Catalog
    clock: Clock
    fail: FailJob
    callback_base: str | None = None
    on_submitted: Callable[[str], Awaitable[object]] | None = None
    """Applies callbacks that arrived before createTask answered (they are stored)."""

    def callback_url(self, job: Job) -> str | None:
        if not self.callback_base:
            return None
        return f"{self.callback_base.rstrip('/')}/kie/callback/{job.id}/{job.callback_token}"

    async def __call__(self, job_id: str) -> Job | None:
        job = await self.storage.transition(
            job_id, {JobStatus.QUEUED}, JobStatus.SUBMITTING, self.clock.now()
        )
        if job is None:  # someone else submits it, or it was cancelled meanwhile
            return await self.storage.get_job(job_id)
        request = TaskRequest(
            job.id, self.catalog.get(job.model_id), job.params, self.callback_url(job)
        )
        try:
            task_id = await self.generation.submit(request)
        except GenerationRejected as exc:
            return await self.fail(job.id, str(exc) or "rejected")
        except (GenerationAmbiguous, GenerationError) as exc:
            # The task may exist: never resubmit. A callback or the reconciler settles it.
            await self.storage.transition(
                job.id,
                {JobStatus.SUBMITTING},
                JobStatus.SUBMITTING,
                self.clock.now(),
                error=f"{AMBIGUOUS_SUBMIT}: {exc}",
            )
            return await self._after(job.id)
        await self.storage.transition(
            job.id, {JobStatus.SUBMITTING}, JobStatus.SUBMITTED, self.clock.now(), task_id=task_id
        )
        return await self._after(job.id)

    async def _after(self, job_id: str) -> Job | None:
        if self.on_submitted is not None:
            await self.on_submitted(job_id)
        return await self.storage.get_job(job_id)


@attrs.define
class DeliverResult:
    """Claim a succeeded job, download its files and send them; resend rather than lose.

    A file over ``max_bytes`` (Telegram's upload limit) is sent as its link instead. A download
    that keeps failing ends after ``max_attempts`` claims with a message to the user: the result
    was produced and captured, so the job ends DELIVERED with the error kept, never looping.
    """

    storage: StoragePort
    downloader: MediaDownloader
    chat: ChatPort
    clock: Clock
    max_bytes: int = 50 * 1024 * 1024
    claim_lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 3

    async def __call__(self, job_id: str) -> Job | None:
        now = self.clock.now()
        job = await self.storage.claim_delivery(job_id, now, now - self.claim_lease)
        if job is None:
            return None
        files: list[Downloaded] = []
        links: list[str] = []
        try:
            for result in job.result:
                try:
                    files.append(await self.downloader.download(result.url, self.max_bytes))
                except TooLarge:
                    links.append(result.url)
        except DownloadError as exc:
            return await self._failed_download(job, exc)
        await self.chat.deliver(job, [(f.filename, f.content, f.mime) for f in files], links)
        return await self.storage.transition(
            job.id, {JobStatus.DELIVERING}, JobStatus.DELIVERED, self.clock.now()
        )

    async def _failed_download(self, job: Job, exc: DownloadError) -> Job | None:
        now = self.clock.now()
        attempts = download_attempts(job.error) + 1
        if attempts < self.max_attempts:
            # Keep the claim: it goes stale and the reconciler tries again.
            await self.storage.transition(
                job.id,
                {JobStatus.DELIVERING},
                JobStatus.DELIVERING,
                now,
                error=f"{DOWNLOAD_ATTEMPT}{attempts}: {exc}",
            )
            return None
        await self.chat.delivery_failed(job, str(exc))
        return await self.storage.transition(
            job.id,
            {JobStatus.DELIVERING},
            JobStatus.DELIVERED,
            now,
            error=f"result not downloadable after {attempts} attempts: {exc}",
        )


@attrs.define
class ApplyTaskStatus:
    """Drive a job from the provider's report; callbacks and polling both come here."""

    storage: StoragePort
    clock: Clock
    fail: FailJob
    deliver: DeliverResult

    async def __call__(self, job_id: str, status: TaskStatus) -> Job | None:
        now = self.clock.now()
        if status.state is TaskState.SUCCEEDED:
            if not status.files:
                return await self.fail(job_id, "the provider reported success without a result")
            job = await self.storage.settle(
                job_id,
                AWAITING_RESULT,
                JobStatus.SUCCEEDED,
                EntryKind.CAPTURE,
                now,
                result=status.files,
                error=None,
            )
            return await self.deliver(job_id) if job is not None else None
        if status.state is TaskState.FAILED:
            return await self.fail(job_id, status.error or "generation failed")
        if status.state is TaskState.RUNNING:
            return await self.storage.transition(
                job_id, {JobStatus.SUBMITTED}, JobStatus.RUNNING, now
            )
        return None
