"""JobHistory: a user's own jobs, newest first, a page at a time, and one of them to repeat."""

from __future__ import annotations

import attrs

from core.domain.jobs import Job
from core.ports.storage import StoragePort


@attrs.frozen
class HistoryPage:
    jobs: list[Job]
    page: int
    more: bool
    """Older jobs exist beyond this page."""


@attrs.define
class JobHistory:
    storage: StoragePort
    page_size: int = 5

    async def page(self, user_id: int, page: int) -> HistoryPage:
        page = max(page, 0)
        # One row more than shown says whether an older page exists.
        jobs = await self.storage.user_jobs(
            user_id, limit=self.page_size + 1, offset=page * self.page_size
        )
        return HistoryPage(jobs[: self.page_size], page, len(jobs) > self.page_size)

    async def own_job(self, user_id: int, job_id: str) -> Job | None:
        """The job, if it is this user's; None for anyone else's or an unknown id (a forged
        or stale button), so a user can never repeat another's parameters."""
        job = await self.storage.get_job(job_id)
        return job if job is not None and job.user_id == user_id else None
