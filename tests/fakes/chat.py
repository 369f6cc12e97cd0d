"""RecordingChat: a ChatPort that remembers what the core told users."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain.jobs import Job
from core.ports.chat import ChatPort


class RecordingChat(ChatPort):
    def __init__(self) -> None:
        self.started: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.delivered: list[tuple[str, list[tuple[str, bytes, str]]]] = []
        self.links: list[tuple[str, list[str]]] = []
        self.undeliverable: list[tuple[str, str]] = []

    async def job_started(self, job: Job) -> int | None:
        self.started.append(job.id)
        return len(self.started)

    async def job_failed(self, job: Job, reason: str) -> None:
        self.failed.append((job.id, reason))

    async def deliver(
        self, job: Job, files: list[tuple[str, bytes, str]], links: Sequence[str] = ()
    ) -> None:
        self.delivered.append((job.id, files))
        if links:
            self.links.append((job.id, list(links)))

    async def delivery_failed(self, job: Job, reason: str) -> None:
        self.undeliverable.append((job.id, reason))
