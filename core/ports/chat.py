"""ChatPort: what the core tells users about their jobs; adapters render the words."""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence

from core.domain.jobs import Job


class Progress(enum.Enum):
    """A step the progress message shows while the user waits."""

    SUBMITTED = "submitted"  # Kie.ai took the task: it can no longer be cancelled
    CHECKING = "checking"  # createTask's answer was lost: checking whether the task exists
    FETCHING = "fetching"  # the result is ready and being fetched


class ChatPort(abc.ABC):
    @abc.abstractmethod
    async def job_started(self, job: Job) -> int | None:
        """Show the progress message; returns its message id when there is one."""

    @abc.abstractmethod
    async def job_progress(self, job: Job, progress: Progress) -> None:
        """Update the progress message to say what is happening now."""

    @abc.abstractmethod
    async def job_failed(self, job: Job) -> None:
        """Tell the user, in one sentence chosen by ``job.failure``, that the job ended without
        a result and its price was returned, with a way back to the menu."""

    @abc.abstractmethod
    async def job_cancelled(self, job: Job) -> None:
        """Tell the user the job was cancelled before it reached the provider and its price
        was returned."""

    @abc.abstractmethod
    async def deliver(
        self, job: Job, files: list[tuple[str, bytes, str]], links: Sequence[str] = ()
    ) -> bool:
        """Send the result files as ``(filename, content, mime type)``; ``links`` are results
        too large to send as files, shown as their URLs.

        True once the result reached the chat; False when the chat cannot receive anything
        (the user blocked the bot). Other failures raise, and the send is tried again."""
