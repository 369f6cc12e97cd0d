"""CallbackStorePort: verified provider callbacks, kept until the job's state machine used them.

A callback can arrive before createTask's answer recorded the task id (an "early" one);
storing it first means it is applied later instead of lost.
"""

from __future__ import annotations

import abc
from datetime import datetime

import attrs

from core.ports.generation import TaskStatus


@attrs.frozen
class ProviderCallback:
    job_id: str
    task_id: str
    status: TaskStatus
    received_at: datetime
    raw: str = ""


class CallbackStorePort(abc.ABC):
    @abc.abstractmethod
    async def save(self, callback: ProviderCallback) -> int:
        """Store one verified callback; returns its id (duplicates are stored too: harmless)."""

    @abc.abstractmethod
    async def pending(self, job_id: str) -> list[tuple[int, ProviderCallback]]:
        """The job's callbacks not yet marked done, oldest first."""

    @abc.abstractmethod
    async def mark_done(self, callback_id: int, now: datetime) -> None: ...

    @abc.abstractmethod
    async def jobs_with_pending(self, limit: int = 100) -> list[str]:
        """Ids of jobs that still have pending callbacks, oldest callback first."""
