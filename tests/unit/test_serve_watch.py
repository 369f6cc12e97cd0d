"""The runtime's wait: SIGTERM ends it with 0, a dead runtime service with 1."""

from __future__ import annotations

import asyncio

from entrypoints.serve import _until_stopped


class Runtime:
    def __init__(self) -> None:
        self.die = asyncio.Event()

    async def watch(self) -> None:
        await self.die.wait()
        raise RuntimeError("the lock supervisor ended")


async def test_sigterm_returns_0() -> None:
    stop, runtime = asyncio.Event(), Runtime()
    waiting = asyncio.create_task(_until_stopped(stop, runtime))
    stop.set()
    assert await waiting == 0


async def test_a_dead_service_returns_1_and_says_so(caplog) -> None:
    stop, runtime = asyncio.Event(), Runtime()
    waiting = asyncio.create_task(_until_stopped(stop, runtime))
    runtime.die.set()
    assert await waiting == 1
    assert "a runtime service died" in caplog.text
    assert "the lock supervisor ended" in caplog.text
