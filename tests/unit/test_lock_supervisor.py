"""LockTimings validation and LockSupervisor over InMemoryLock (the PostgreSQL runs are in
tests/integration/test_lock_processes.py)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory.lock import InMemoryLock
from core.ports.lock import LockConfigError, LockState, LockTimings
from core.usecases.lock_supervisor import LockSupervisor

FAST = LockTimings(heartbeat_interval=0.02, stale_idle_seconds=0.1, retry_interval=0.02)


@pytest.mark.parametrize(("heartbeat", "stale"), [(15, 30), (15, 20), (1, 0.5)])
def test_stale_threshold_must_exceed_twice_the_heartbeat(heartbeat: float, stale: float) -> None:
    with pytest.raises(LockConfigError) as raised:
        LockTimings(heartbeat_interval=heartbeat, stale_idle_seconds=stale)
    message = str(raised.value)
    assert "LOCK_STALE_IDLE_SECONDS" in message
    assert "2 x LOCK_HEARTBEAT_INTERVAL" in message


def test_defaults_are_the_seeds_and_the_lease_ends_before_anyone_may_take_over() -> None:
    timings = LockTimings()
    assert (timings.heartbeat_interval, timings.stale_idle_seconds) == (15, 120)
    assert timings.heartbeat_interval < timings.lease_seconds < timings.stale_idle_seconds


class Worker:
    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.epochs: list[int | None] = []

    async def __call__(self, epoch: int | None) -> None:
        self.epochs.append(epoch)
        self.running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


async def test_one_of_two_leads_and_the_other_takes_over_when_it_loses_the_lock() -> None:
    registry: dict[str, object] = {}
    first, second = Worker(), Worker()
    a = LockSupervisor(InMemoryLock(registry), FAST, on_active=first)
    await a.start()
    await asyncio.wait_for(a.wait_for(LockState.ACTIVE), 2)
    b_lock = InMemoryLock(registry)
    b = LockSupervisor(b_lock, FAST, on_active=second)
    seen = b.changes()
    await b.start()
    await asyncio.wait_for(first.running.wait(), 2)
    assert await anext(seen) is LockState.PASSIVE
    assert not second.running.is_set()

    registry["kiebot"] = b_lock  # taken from a, as when a stale holder is terminated
    await asyncio.wait_for(first.cancelled.wait(), 2)
    await asyncio.wait_for(second.running.wait(), 2)
    assert await asyncio.wait_for(anext(seen), 2) is LockState.ACTIVE
    assert second.epochs == [2]
    assert a.state is LockState.PASSIVE
    await b.stop()
    await a.stop()
    assert await asyncio.wait_for(anext(seen), 2) is LockState.STOPPED


async def test_failing_active_work_releases_the_lock_and_surfaces_from_join() -> None:
    registry: dict[str, object] = {}

    async def broken(epoch: int | None) -> None:
        raise RuntimeError("setWebhook failed")

    supervisor = LockSupervisor(InMemoryLock(registry), FAST, on_active=broken)
    await supervisor.start()
    with pytest.raises(RuntimeError, match="setWebhook failed"):
        await asyncio.wait_for(supervisor.join(), 2)
    assert "kiebot" not in registry
    assert supervisor.state is LockState.STOPPED


async def test_stop_cancels_active_work_and_releases() -> None:
    registry: dict[str, object] = {}
    worker = Worker()
    supervisor = LockSupervisor(InMemoryLock(registry), FAST, on_active=worker)
    await supervisor.start()
    await asyncio.wait_for(worker.running.wait(), 2)
    await supervisor.stop()
    assert worker.cancelled.is_set()
    assert "kiebot" not in registry
    assert supervisor.state is LockState.STOPPED
    await asyncio.wait_for(supervisor.join(), 1)
