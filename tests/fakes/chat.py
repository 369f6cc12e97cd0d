"""RecordingChat: a ChatPort that remembers what the core told users."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain.jobs import FailureKind, Job
from core.ports.chat import ChatPort, Progress


class RecordingChat(ChatPort):
    def __init__(self) -> None:
        self.started: list[str] = []
        self.progress: list[tuple[str, Progress]] = []
        self.failed: list[tuple[str, FailureKind | None, str | None]] = []
        """(job id, failure kind, the provider's reason shown to the user)."""
        self.delivered: list[tuple[str, list[tuple[str, bytes, str]]]] = []
        self.links: list[tuple[str, list[str]]] = []
        self.cancelled: list[str] = []
        self.reachable = True
        """False plays a user who blocked the bot."""

    async def job_started(self, job: Job) -> int | None:
        self.started.append(job.id)
        return len(self.started)

    async def job_progress(self, job: Job, progress: Progress) -> None:
        self.progress.append((job.id, progress))

    async def job_failed(self, job: Job) -> None:
        self.failed.append((job.id, job.failure, job.failure_reason))

    async def job_cancelled(self, job: Job) -> None:
        self.cancelled.append(job.id)

    async def deliver(
        self, job: Job, files: list[tuple[str, bytes, str]], links: Sequence[str] = ()
    ) -> bool:
        if not self.reachable:
            return False
        self.delivered.append((job.id, files))
        if links:
            self.links.append((job.id, list(links)))
        return True
