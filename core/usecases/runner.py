"""JobRunner: submits queued jobs and delivers produced results, outside any update handler.

The confirm handler only creates the job (with its hold), shows the progress message and
rings the doorbell; createTask — up to its timeout — and result downloads with their retries
happen here, so no chat waits for them. Work is claimed from the jobs table itself (a claim
is one atomic state change), so runners in several processes share it without a queue
service, and a job left queued by a stopped process is found by the next short poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import attrs

from core.domain.jobs import Job
from core.ports.clock import ClockPort
from core.ports.storage import StoragePort
from core.usecases.generation import DeliverResult, SubmitJob

log = logging.getLogger(__name__)

Work = Callable[[Job], Awaitable[object]]


class Doorbell:
    """A wake-up that is kept when it rings while nobody is waiting for it.

    Separate from the runner so the use cases that ring it (launching, a task's success) need
    not depend on the runner, which depends on them."""

    def __init__(self) -> None:
        self._rung = asyncio.Event()

    def ring(self) -> None:
        self._rung.set()

    def clear(self) -> None:
        self._rung.clear()

    async def wait(self, seconds: float) -> None:
        """Return when rung, or after ``seconds``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._rung.wait(), seconds)


@attrs.define
class JobRunner:
    """At most ``concurrency`` jobs in flight; deliveries are claimed before submissions (a
    finished result is closer to the user). One job's exception is logged with its id and
    the runner goes on; the job itself is left to its claim's lease or the reconciler."""

    storage: StoragePort
    submit: SubmitJob
    deliver: DeliverResult
    clock: ClockPort
    doorbell: Doorbell = attrs.field(factory=Doorbell)
    concurrency: int = 4
    poll_interval: float = 3.0
    """Seconds between looks for work nobody rang about (other processes' jobs, stale claims)."""
    drain_timeout: float = 10.0
    """On cancellation, how long jobs in flight may still finish before they are cancelled."""
    _tasks: set[asyncio.Task[None]] = attrs.field(factory=set, init=False)
    _backlog: bool = attrs.field(default=False, init=False)

    def wake(self) -> None:
        self.doorbell.ring()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self) -> None:
        """Claim and run jobs until cancelled."""
        try:
            while True:
                self.doorbell.clear()  # a ring from here on is kept for the wait below
                try:
                    await self._fill()
                except Exception:
                    log.exception("job runner: claiming jobs failed; retrying after the poll")
                await self.doorbell.wait(self.poll_interval)
        finally:
            await self._drain()

    async def run_once(self) -> int:
        """Claim and finish everything due now, including what that work made due (a result
        reported while it was being submitted, say); returns how many jobs ran."""
        ran = 0
        while True:
            batch = await self._claim(self.concurrency)
            if not batch:
                return ran
            await asyncio.gather(*(self._work(job, what, work) for job, what, work in batch))
            ran += len(batch)

    async def _claim(self, limit: int) -> list[tuple[Job, str, Work]]:
        now = self.clock.now()
        claimed: list[tuple[Job, str, Work]] = [
            (job, "delivery", self.deliver.deliver_claimed)
            for job in await self.storage.claim_deliveries(
                now, now - self.deliver.claim_lease, limit
            )
        ]
        if len(claimed) < limit:
            claimed += [
                (job, "submission", self.submit.submit_claimed)
                for job in await self.storage.claim_queued(now, limit - len(claimed))
            ]
        self._backlog = len(claimed) >= limit
        return claimed

    async def _fill(self) -> None:
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return
        claim = asyncio.ensure_future(self._claim(free))
        try:
            batch = await asyncio.shield(claim)
        except asyncio.CancelledError:
            # Stopping mid-claim: what the claim took is this runner's, so it is still started
            # (and given the drain time) rather than left claimed by nobody.
            try:
                self._start(await claim)
            except Exception:
                log.exception("job runner: claiming failed while stopping")
            raise
        self._start(batch)

    def _start(self, batch: list[tuple[Job, str, Work]]) -> None:
        for job, what, work in batch:
            task = asyncio.create_task(self._work(job, what, work), name=f"job-{job.id}")
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._backlog:  # the last claim was cut short by the limit: there may be more
            self.doorbell.ring()

    async def _work(self, job: Job, what: str, work: Work) -> None:
        try:
            await work(job)
        except Exception:
            log.exception("job runner: %s failed job_id=%s", what, job.id)

    async def _drain(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self.drain_timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
