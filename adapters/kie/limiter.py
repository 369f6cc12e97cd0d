"""A sliding-window limiter that queues callers instead of failing them."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class SlidingWindowLimiter:
    """At most ``limit`` acquisitions per ``window`` seconds; later callers wait their turn.

    Kie.ai rejects (does not queue) creates over 20 per 10 s per account, so we queue here.
    """

    def __init__(
        self,
        limit: int = 20,
        window: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limit = limit
        self._window = window
        self._monotonic = monotonic
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._lock = asyncio.Lock()  # FIFO: the earliest waiter is served first

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._monotonic()
                while self._stamps and now - self._stamps[0] >= self._window:
                    self._stamps.popleft()
                if len(self._stamps) < self._limit:
                    self._stamps.append(now)
                    return
                await self._sleep(self._window - (now - self._stamps[0]))

    def penalise(self) -> None:
        """Kie.ai said 429 anyway (other processes share the account): fill the window."""
        now = self._monotonic()
        while len(self._stamps) < self._limit:
            self._stamps.append(now)
