"""Launching a confirmed job: the progress message, then one createTask."""

from __future__ import annotations

import attrs

from core.domain.jobs import Job, JobStatus
from core.ports.chat import ChatPort
from core.ports.clock import Clock
from core.ports.storage import StoragePort
from core.usecases.generation import SubmitJob


@attrs.define
class LaunchJob:
    storage: StoragePort
    chat: ChatPort
    clock: Clock
    submit: SubmitJob

    async def __call__(self, job: Job) -> Job | None:
        message_id = await self.chat.job_started(job)
        if message_id is not None:
            await self.storage.transition(
                job.id,
                {JobStatus.QUEUED},
                JobStatus.QUEUED,
                self.clock.now(),
                progress_message_id=message_id,
            )
        return await self.submit(job.id)
