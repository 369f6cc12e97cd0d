"""Launching a confirmed job: the progress message, then a wake-up for the job runner.

This runs inside the chat's update handler, so it never calls the provider: the next tap of
the same chat is answered while createTask is still on its way (the runner does that).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from core.domain.jobs import Job
from core.ports.chat import ChatPort
from core.ports.storage import StoragePort


@attrs.define
class LaunchJob:
    storage: StoragePort
    chat: ChatPort
    wake: Callable[[], None]
    """Tells the job runner a queued job is waiting (its poll would find it a little later)."""

    async def __call__(self, job: Job) -> None:
        try:
            message_id = await self.chat.job_started(job)
            if message_id is not None:
                await self.storage.set_progress_message(job.id, message_id)
        finally:
            self.wake()
