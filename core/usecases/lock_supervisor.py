"""LockSupervisor: keeps a LockPort ACTIVE when it can and runs active-only work only then.

For the entrypoint (works with PostgresAdvisoryLock and InMemoryLock alike)::

    supervisor = LockSupervisor(lock, timings, on_active=active_work)
    await supervisor.start()                    # returns at once; retries in the background
    await supervisor.wait_for(LockState.ACTIVE) # optional: block until this instance leads
    async for state in supervisor.changes():    # current state, then every transition
        ...                                     # ACTIVE, PASSIVE (lost or waiting), STOPPED
    supervisor.state                            # the lock's own state (single source of truth)
    supervisor.snapshot().as_dict()             # the lock fields of /health
    await supervisor.stop()                     # cancels active work, releases the lock
    await supervisor.join()                     # ends when stopped; re-raises a work failure

``on_active(epoch)`` is started as a task each time the lock is acquired and cancelled as soon
as a heartbeat finds the lock lost, or on ``stop()``. It may return early (e.g. after
``setWebhook``): the lock is kept. If it raises, the supervisor releases the lock so a healthy
instance can take over, and ``join()`` re-raises, so the process can exit non-zero. Long-running
work should also check ``supervisor.state is LockState.ACTIVE`` before each side effect: that
reading turns PASSIVE by itself when heartbeats stop being confirmed (e.g. the process was
paused), before this supervisor has had a chance to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from core.ports.lock import LockPort, LockSnapshot, LockState, LockTimings

log = logging.getLogger(__name__)

ActiveWork = Callable[[int | None], Coroutine[Any, Any, None]]


class LockSupervisor:
    def __init__(
        self,
        lock: LockPort,
        timings: LockTimings,
        on_active: ActiveWork | None = None,
        *,
        work_stop_timeout: float = 10.0,
    ) -> None:
        self._lock = lock
        self._timings = timings
        self._on_active = on_active
        self._work_stop_timeout = work_stop_timeout
        self._task: asyncio.Task[None] | None = None
        self._work: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._last: LockState = LockState.PASSIVE
        self._subscribers: set[asyncio.Queue[LockState]] = set()

    @property
    def state(self) -> LockState:
        return self._lock.state

    def snapshot(self) -> LockSnapshot:
        return self._lock.snapshot()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="lock-supervisor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._stop_work()
        await self._lock.release()
        self._emit(LockState.STOPPED)

    async def join(self) -> None:
        """Wait until the supervisor ends; re-raises what made it end, if anything."""
        if self._task is not None:
            await asyncio.shield(self._task)
        else:
            await self.wait_for(LockState.STOPPED)

    async def wait_for(self, state: LockState) -> None:
        while self._last is not state:
            changed = self._changed
            await changed.wait()

    async def changes(self) -> AsyncIterator[LockState]:
        queue: asyncio.Queue[LockState] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            state = self._last
            while True:
                yield state
                if state is LockState.STOPPED:
                    return
                state = await queue.get()
        finally:
            self._subscribers.discard(queue)

    async def _loop(self) -> None:
        while True:
            if self._lock.state is LockState.ACTIVE:
                await self._pause(self._timings.heartbeat_interval)
                await self._check_work()
                held = await self._lock.still_held()
            else:
                held = await self._lock.acquire()
            await self._sync()
            if not held:
                await asyncio.sleep(self._timings.retry_interval)

    async def _pause(self, seconds: float) -> None:
        """Sleep, waking early when the active work ends."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _check_work(self) -> None:
        work = self._work
        if work is None or not work.done() or work.cancelled():
            return
        exc = work.exception()
        if exc is None:
            return  # finished its job; keep leading (e.g. setWebhook done, nothing else)
        log.error("[LOCK] Active work failed; releasing the lock", exc_info=exc)
        self._work = None
        await self._lock.release()
        self._emit(LockState.STOPPED)
        raise exc

    async def _sync(self) -> None:
        """Start or cancel the active work to match what the lock just reported."""
        state = self._lock.state
        if state is LockState.ACTIVE and self._work is None and self._on_active is not None:
            epoch = self._lock.snapshot().epoch
            self._work = asyncio.create_task(self._on_active(epoch), name="lock-active-work")
            self._work.add_done_callback(lambda _: self._wake.set())
        elif state is not LockState.ACTIVE and self._work is not None:
            log.warning("[LOCK] Stopping active work: this instance is %s", state)
            await self._stop_work()
        self._emit(state)

    async def _stop_work(self) -> None:
        work, self._work = self._work, None
        if work is None or work.done():
            return
        work.cancel()
        done, _ = await asyncio.wait({work}, timeout=self._work_stop_timeout)
        if not done:
            log.error("[LOCK] Active work ignored cancellation for %ss", self._work_stop_timeout)

    def _emit(self, state: LockState) -> None:
        if state is self._last:
            return
        self._last = state
        for queue in self._subscribers:
            queue.put_nowait(state)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
