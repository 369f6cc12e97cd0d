"""The lock holder's duties (setWebhook, polling, reconciling, purging), kept alive.

A duty that raises is retried with a growing delay instead of ending the holder's work: one
network error at boot must not leave an instance ACTIVE but doing nothing. Each duty's state is
kept for ``/health``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping

import attrs

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class DutyState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"  # a pass is under way, or the last pass of a periodic duty went through
    DONE = "done"  # a one-shot duty that succeeded
    RETRYING = "retrying"  # the last attempt failed; the next comes after a backoff
    STOPPED = "stopped"  # not ACTIVE (or shutting down)


@attrs.frozen
class Duty:
    """``step`` is one pass. ``every`` None: done once it succeeds; a number: run again after
    that many seconds. A step that never returns (a polling loop) is restarted if it raises."""

    name: str
    step: Callable[[], Awaitable[object]]
    every: float | None = None


@attrs.define
class DutyStatus:
    state: DutyState = DutyState.STARTING
    failures: int = 0
    """Consecutive failed attempts (0 after a success)."""
    last_error: str | None = None

    def describe(self) -> str:
        if self.state is DutyState.RETRYING:
            return f"retrying ({self.failures} failure(s)): {self.last_error}"
        return self.state.value


def retry_delay(failures: int, base: float = 1.0, cap: float = 60.0) -> float:
    return float(min(cap, base * 2 ** max(0, failures - 1)))


@attrs.define
class DutyRunner:
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    sleep: Sleep = asyncio.sleep
    _status: dict[str, DutyStatus] = attrs.field(factory=dict, init=False)

    def status(self) -> Mapping[str, str]:
        return {name: s.describe() for name, s in self._status.items()}

    async def run(self, duties: list[Duty]) -> None:
        """Run every duty until cancelled (the lock was lost, or shutdown)."""
        for duty in duties:
            self._status[duty.name] = DutyStatus()
        try:
            async with asyncio.TaskGroup() as group:
                for duty in duties:
                    group.create_task(self._keep(duty), name=f"duty-{duty.name}")
        finally:
            for status in self._status.values():
                if status.state is not DutyState.DONE:
                    status.state = DutyState.STOPPED

    async def _keep(self, duty: Duty) -> None:
        status = self._status[duty.name]
        while True:
            try:
                if status.state is not DutyState.RETRYING:
                    status.state = DutyState.RUNNING
                await duty.step()
            except Exception as exc:
                status.failures += 1
                status.last_error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                status.state = DutyState.RETRYING
                delay = retry_delay(status.failures, self.backoff_base, self.backoff_cap)
                log.error(
                    "[LOCK] duty %s failed (attempt %d), retrying in %.0fs: %s",
                    duty.name,
                    status.failures,
                    delay,
                    status.last_error,
                )
                await self.sleep(delay)
                continue
            if status.failures:
                log.info("[LOCK] duty %s ok again after %d failure(s)", duty.name, status.failures)
            status.failures, status.last_error = 0, None
            if duty.every is None:
                status.state = DutyState.DONE
                return
            status.state = DutyState.RUNNING
            await self.sleep(duty.every)
