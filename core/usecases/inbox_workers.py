"""InboxWorkers: N tasks that lease updates from the inbox and run them through a handler.

A runtime service on ports only (the inbox, the metrics); the handler is whatever the runtime
feeds updates to (aiogram's dispatcher in the bot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from core.ports.inbox import InboxItem, InboxPort, MalformedUpdate, backoff_seconds
from core.ports.metrics import MetricsPort

log = logging.getLogger(__name__)

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]


class InboxWorkers:
    """Each worker claims one update at a time, so a chat's next update waits for this one.

    An update is marked processed only after the handler returned; a failure is retried with
    exponential backoff and parked after ``max_attempts``; nothing is dropped.

    One more task keeps the claims: it establishes the inbox's liveness at start, then renews
    the leases of the updates in flight every ``renew_interval`` (a third of the lease unless
    given), so a handler slower than the lease keeps its update while this process lives and
    answers; ``stop`` ends the liveness once the workers are done, which frees anything left.
    """

    def __init__(
        self,
        inbox: InboxPort,
        handle: Handler,
        metrics: MetricsPort,
        *,
        workers: int = 4,
        max_attempts: int = 5,
        lease_seconds: float = 60.0,
        renew_interval: float | None = None,
        idle_poll: float = 0.5,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
    ) -> None:
        self._inbox = inbox
        self._handle = handle
        self._metrics = metrics
        self._count = workers
        self._max_attempts = max_attempts
        self._lease = lease_seconds
        self._renew_every = renew_interval if renew_interval is not None else lease_seconds / 3
        self._idle_poll = idle_poll
        self._backoff = (backoff_base, backoff_cap)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._keeper: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Something was stored: idle workers claim now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._keeper = asyncio.create_task(self._keep_claims(), name="inbox-claims")
        self._tasks = [
            asyncio.create_task(self._work(), name=f"inbox-worker-{i}") for i in range(self._count)
        ]

    async def join(self) -> None:
        """Return when a worker or the claim keeper ended while not stopping (it re-raises
        what ended it): workers catch their handlers' failures, so this means the process
        has lost its inbox and should be restarted. Without workers it waits forever."""
        tasks = [*self._tasks, *([self._keeper] if self._keeper is not None else [])]
        if not tasks:
            await asyncio.Event().wait()
        done, _ = await asyncio.wait(
            [asyncio.shield(t) for t in tasks], return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            task.result()

    async def stop(self, grace: float = 10.0) -> None:
        """Take no new updates; give in-flight handlers ``grace`` seconds, then cancel them."""
        self._stopping.set()
        self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks = []
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
            try:
                await self._inbox.close()
            except Exception as exc:
                log.warning("[INBOX] closing the claimer failed: %s", exc)

    async def _keep_claims(self) -> None:
        try:
            await self._inbox.start()
        except Exception as exc:
            # Not fatal: every claim tries again, and refuses to hand out work until it works.
            log.warning("[INBOX] claimer liveness not established yet: %s", exc)
        while True:
            await asyncio.sleep(self._renew_every)
            try:
                await self._inbox.renew(self._lease)
            except Exception as exc:
                log.warning("[INBOX] lease renewal failed: %s", exc)

    async def _work(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                items = await self._inbox.claim(1, self._lease)
                failures = 0
            except Exception as exc:
                # The database went away: keep the worker, back off, try again.
                failures += 1
                log.warning("[INBOX] claim failed: %s", exc)
                await self._idle(min(30.0, 0.5 * 2**failures))
                continue
            if not items:
                await self._idle(self._idle_poll)
                continue
            for item in items:
                try:
                    await self._run(item)
                except Exception as exc:
                    # Recording the outcome failed; the update is no longer renewed, so its
                    # lease runs out and it comes back.
                    log.warning("[INBOX] could not record update_id=%s: %s", item.update_id, exc)
                    await self._idle(1.0)

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _run(self, item: InboxItem) -> None:
        try:
            await self._handle(item.payload)
        except asyncio.CancelledError:
            # Shut down mid-handler: give the claim back so another instance retries now.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._inbox.release([item.update_id]))
            raise
        except MalformedUpdate as exc:
            await self._park(item, f"malformed update: {exc}")
        except Exception as exc:
            await self._failed(item, exc)
        else:
            await self._inbox.mark_processed(item.update_id)
            self._metrics.update_processed()

    async def _failed(self, item: InboxItem, exc: Exception) -> None:
        self._metrics.update_failed()
        attempts = item.attempts + 1
        reason = f"{type(exc).__name__}: {exc}"[:500]
        if attempts >= self._max_attempts:
            log.exception("[INBOX] handler failed, attempt %d", attempts, exc_info=exc)
            await self._park(item, reason)
            return
        delay = backoff_seconds(attempts, *self._backoff)
        log.warning(
            "[INBOX] handler failed update_id=%s attempt=%d retry_in=%.1fs: %s",
            item.update_id,
            attempts,
            delay,
            reason,
        )
        await self._inbox.retry_later(item.update_id, reason, delay)

    async def _park(self, item: InboxItem, reason: str) -> None:
        self._metrics.update_parked()
        log.error(
            "[INBOX] parked update_id=%s after %d attempt(s): %s",
            item.update_id,
            item.attempts + 1,
            reason,
        )
        await self._inbox.park(item.update_id, reason)
