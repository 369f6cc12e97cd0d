"""ChatPort: what the core tells users about their jobs; adapters render the words."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from core.domain.jobs import Job


class ChatPort(abc.ABC):
    @abc.abstractmethod
    async def job_started(self, job: Job) -> int | None:
        """Show the progress message; returns its message id when there is one."""

    @abc.abstractmethod
    async def job_failed(self, job: Job, reason: str) -> None:
        """Tell the user the job failed and that the hold was returned."""

    @abc.abstractmethod
    async def deliver(
        self, job: Job, files: list[tuple[str, bytes, str]], links: Sequence[str] = ()
    ) -> None:
        """Send the result files as ``(filename, content, mime type)``; ``links`` are results
        too large to send as files, shown as their URLs."""

    @abc.abstractmethod
    async def delivery_failed(self, job: Job, reason: str) -> None:
        """Tell the user the result was produced (and paid) but could not be fetched."""
