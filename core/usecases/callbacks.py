"""Provider callbacks: verify and store fast, then drive the same state machine as polling."""

from __future__ import annotations

import enum
import hmac
import logging

import attrs

from core.domain.jobs import AWAITING_RESULT, Job, JobStatus
from core.ports.callbacks import CallbackStorePort, ProviderCallback
from core.ports.clock import ClockPort
from core.ports.generation import GenerationError, GenerationPort, TaskStatus
from core.ports.storage import StoragePort
from core.usecases.generation import ApplyTaskStatus

log = logging.getLogger(__name__)

_NO_TOKEN = "-" * 32  # compared against when the job is unknown, so timing reveals nothing


class Received(enum.Enum):
    STORED = "stored"
    FORGED = "forged"  # unknown job or wrong token
    NO_TASK = "no_task"  # nothing to match a job by: logged and dropped
    TASK_MISMATCH = "task_mismatch"  # right token, but another task than the job's: refused


@attrs.define
class ReceiveCallback:
    """The fast half, inside the HTTP request: check the per-job token, persist, return."""

    storage: StoragePort
    callbacks: CallbackStorePort
    clock: ClockPort

    async def __call__(
        self, job_id: str, token: str, task_id: str | None, status: TaskStatus, raw: str = ""
    ) -> Received:
        job = await self.storage.get_job(job_id)
        expected = job.callback_token if job is not None else _NO_TOKEN
        if not hmac.compare_digest(expected.encode(), token.encode()) or job is None:
            return Received.FORGED
        if not task_id:
            log.warning("callback without a task id job_id=%s", job_id)
            return Received.NO_TASK
        if job.task_id is not None and task_id != job.task_id:
            # Misrouted or forged: never stored, and refused so that it shows in the caller's
            # retries and here. (Before the task id is known it is kept: it may be early.)
            log.error(
                "callback task mismatch job_id=%s job_task=%s callback_task=%s",
                job.id,
                job.task_id,
                task_id[:128],
            )
            return Received.TASK_MISMATCH
        await self.callbacks.save(
            ProviderCallback(job_id, task_id, status, self.clock.now(), raw[:65536])
        )
        return Received.STORED


@attrs.define
class ProcessCallbacks:
    """The slow half (after the 200, or from the reconciler): apply stored callbacks."""

    storage: StoragePort
    callbacks: CallbackStorePort
    generation: GenerationPort
    apply: ApplyTaskStatus
    clock: ClockPort

    async def __call__(self, job_id: str) -> Job | None:
        job = await self.storage.get_job(job_id)
        for callback_id, callback in await self.callbacks.pending(job_id):
            if job is None:
                break
            if job.task_id is None:
                if job.status is JobStatus.SUBMITTING and job.submit_ambiguous_at is not None:
                    job = await self._adopt(job, callback.task_id)
                elif job.status in AWAITING_RESULT:
                    continue  # early: createTask's answer is still on its way; keep it
                else:
                    log.info("callback for a job that ended unsubmitted job_id=%s", job.id)
            elif callback.task_id != job.task_id:
                # Stored while the task id was unknown, and createTask then named another task:
                # never trust a result for another task, whatever its token says.
                log.warning(
                    "callback task mismatch job_id=%s job_task=%s callback_task=%s",
                    job.id,
                    job.task_id,
                    callback.task_id,
                )
            elif job.status in AWAITING_RESULT:
                await self.apply(job.id, callback.status)
            else:
                # Duplicate, out of order, or late (after expiry: logged, never captured).
                log.info(
                    "callback ignored job_id=%s status=%s state=%s",
                    job.id,
                    job.status,
                    callback.status.state.value,
                )
            await self.callbacks.mark_done(callback_id, self.clock.now())
            job = await self.storage.get_job(job_id)
        return job

    async def _adopt(self, job: Job, task_id: str) -> Job | None:
        """createTask's answer was lost, but Kie.ai called this job's secret URL back.

        The token proves the task is this job's; the result itself is only taken from
        recordInfo (the authority), never from the callback body.
        """
        adopted = await self.storage.transition(
            job.id, {JobStatus.SUBMITTING}, JobStatus.SUBMITTED, self.clock.now(), task_id=task_id
        )
        if adopted is None:
            return await self.storage.get_job(job.id)
        log.info("adopted task from callback job_id=%s task_id=%s", job.id, task_id)
        try:
            status = await self.generation.status(task_id)
        except GenerationError as exc:
            log.warning("status after adoption failed job_id=%s: %s", job.id, exc)
            return adopted
        return await self.apply(job.id, status) or await self.storage.get_job(job.id)
