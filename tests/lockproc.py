"""A tiny instance for the lock process tests: ``python -m tests.lockproc <dsn> <out-file>``.

Runs a LockSupervisor over PostgresAdvisoryLock and appends one line per event to ``out-file``:
``<unix time> STATE <state> epoch=<n>``, ``<unix time> WORK epoch=<n>`` for every tick of
active-only work (only while the lock's state says ACTIVE), and the ``[LOCK]`` log lines.
Timings come from LOCK_HEARTBEAT_INTERVAL, LOCK_STALE_IDLE_SECONDS and LOCK_RETRY_INTERVAL.
SIGTERM stops it cleanly (releases the lock).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from typing import TextIO

from adapters.postgres.lock import PostgresAdvisoryLock
from core.ports.lock import LockState, LockTimings
from core.usecases.lock_supervisor import LockSupervisor

WORK_TICK = 0.05


class _Out:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def line(self, text: str) -> None:
        # One write per line, flushed: the test reads the file while we run.
        self._stream.write(f"{time.time():.3f} {text}\n")
        self._stream.flush()


class _LogToOut(logging.Handler):
    def __init__(self, out: _Out) -> None:
        super().__init__(logging.INFO)
        self._out = out

    def emit(self, record: logging.LogRecord) -> None:
        self._out.line(record.getMessage())


async def main(dsn: str, out: _Out) -> None:
    timings = LockTimings(
        heartbeat_interval=float(os.environ.get("LOCK_HEARTBEAT_INTERVAL", "0.5")),
        stale_idle_seconds=float(os.environ.get("LOCK_STALE_IDLE_SECONDS", "3")),
        retry_interval=float(os.environ.get("LOCK_RETRY_INTERVAL", "0.3")),
    )
    lock = PostgresAdvisoryLock(dsn, name="lockproc", timings=timings)

    async def active_work(epoch: int | None) -> None:
        while True:
            # The check a real singleton job makes before each side effect.
            if lock.state is LockState.ACTIVE:
                out.line(f"WORK epoch={epoch}")
            await asyncio.sleep(WORK_TICK)

    supervisor = LockSupervisor(lock, timings, on_active=active_work)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)

    async def report() -> None:
        async for state in supervisor.changes():
            out.line(f"STATE {state} epoch={supervisor.snapshot().epoch}")

    reporter = asyncio.create_task(report())
    out.line(f"START pid={os.getpid()}")
    await supervisor.start()
    await stopping.wait()
    await supervisor.stop()
    await reporter
    out.line("EXIT")


if __name__ == "__main__":
    dsn, path = sys.argv[1], sys.argv[2]
    with open(path, "a", encoding="utf-8") as stream:
        sink = _Out(stream)
        logging.basicConfig(level=logging.WARNING)
        lock_log = logging.getLogger("adapters")
        lock_log.setLevel(logging.INFO)
        lock_log.addHandler(_LogToOut(sink))
        asyncio.run(main(dsn, sink))
