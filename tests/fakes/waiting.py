"""Synchronise tests by polling a condition against a deadline, never by a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def until(
    check: Callable[[], Awaitable[bool] | bool], deadline: float = 5.0, what: str = "condition"
) -> None:
    end = time.monotonic() + deadline
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > end:
            raise AssertionError(f"{what} not met within {deadline}s")
        await asyncio.sleep(0.01)


def wait_for(check: Callable[[], bool], deadline: float = 10.0, what: str = "condition") -> None:
    """The same for synchronous tests (processes, sockets)."""
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not met within {deadline}s")
        time.sleep(0.02)
