"""InMemoryUpdateSource: feeds queued raw updates, for tests and replay."""

from __future__ import annotations

import asyncio

from core.ports.updates import RawUpdate, UpdateSink, UpdateSource


class InMemoryUpdateSource(UpdateSource):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[RawUpdate | None] = asyncio.Queue()

    def push(self, update: RawUpdate) -> None:
        self._queue.put_nowait(update)

    async def run(self, sink: UpdateSink) -> None:
        while (update := await self._queue.get()) is not None:
            await sink(update)

    async def stop(self) -> None:
        self._queue.put_nowait(None)
