"""LockPort contract: the same tests run on InMemoryLock and PostgresAdvisoryLock.

``locks()`` makes one more instance competing for the same lock, as another process would be.
What only PostgreSQL can show (a killed or stale holder session, a missing migration, an
unreachable server) is in tests/integration/test_lock.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.memory.lock import InMemoryLock
from adapters.postgres.lock import PostgresAdvisoryLock
from core.ports.lock import LockPort, LockSnapshot, LockState, LockTimings

NAME = "kiebot:contract"
TIMINGS = LockTimings()  # 15 s heartbeat: no test here lasts near one interval

Locks = Callable[[], LockPort]


@pytest.fixture
async def locks(storage_url: str | None) -> AsyncIterator[Locks]:
    made: list[LockPort] = []
    registry: dict[str, object] = {}  # what the in-memory instances share, as one database

    def make() -> LockPort:
        if storage_url is None:
            lock: LockPort = InMemoryLock(registry, name=NAME)
        else:
            lock = PostgresAdvisoryLock(storage_url, name=NAME, timings=TIMINGS)
        made.append(lock)
        return lock

    yield make
    for lock in made:
        await lock.release()


def consistent(lock: LockPort) -> LockSnapshot:
    """The snapshot, checked against the lock's state and against itself."""
    seen = lock.snapshot()
    assert seen.lock_state is lock.state
    for age in (seen.lock_heartbeat_age, seen.lock_idle_duration):
        assert age is None or 0 <= age < TIMINGS.stale_idle_seconds
    fields = json.loads(json.dumps(seen.as_dict()))  # /health serves it as JSON
    assert fields["lock_state"] == str(lock.state)
    if seen.lock_state is LockState.ACTIVE:
        assert isinstance(seen.lock_holder_pid, int)
        assert isinstance(seen.epoch, int)
        assert seen.epoch >= 1
    if seen.lock_state is LockState.STOPPED:
        assert (seen.lock_holder_pid, seen.epoch) == (None, None)
    return seen


async def test_a_new_instance_is_passive_and_holds_nothing(locks: Locks) -> None:
    a = locks()
    assert a.state is LockState.PASSIVE
    assert not await a.still_held()
    assert a.state is LockState.PASSIVE
    seen = consistent(a)
    assert (seen.lock_holder_pid, seen.epoch) == (None, None)


async def test_of_two_instances_exactly_one_is_active(locks: Locks) -> None:
    a, b = locks(), locks()
    results = await asyncio.gather(a.acquire(), b.acquire())
    assert sorted(results) == [False, True]
    active, passive = (a, b) if results[0] else (b, a)
    assert (active.state, passive.state) == (LockState.ACTIVE, LockState.PASSIVE)
    assert not await passive.acquire()  # trying again changes nothing
    assert await active.still_held()
    assert not await passive.still_held()
    assert (active.state, passive.state) == (LockState.ACTIVE, LockState.PASSIVE)


async def test_a_third_instance_cannot_take_the_lock_either(locks: Locks) -> None:
    a, b, c = locks(), locks(), locks()
    assert await a.acquire()
    assert [await b.acquire(), await c.acquire()] == [False, False]
    assert [a.state, b.state, c.state] == [LockState.ACTIVE, LockState.PASSIVE, LockState.PASSIVE]


async def test_release_lets_the_other_acquire(locks: Locks) -> None:
    a, b = locks(), locks()
    assert await a.acquire()
    assert not await b.acquire()
    await a.release()
    assert a.state is LockState.STOPPED
    assert not await a.still_held()
    assert await b.acquire()
    assert b.state is LockState.ACTIVE
    assert await b.still_held()


async def test_a_released_instance_can_acquire_again(locks: Locks) -> None:
    a, b = locks(), locks()
    assert await a.acquire()
    await a.release()
    assert await a.acquire()
    assert a.state is LockState.ACTIVE
    assert not await b.acquire()


async def test_epoch_grows_on_every_acquisition(locks: Locks) -> None:
    a, b = locks(), locks()
    epochs = []
    for lock in (a, b, a, a):
        assert await lock.acquire()
        epochs.append(consistent(lock).epoch)
        await lock.release()
    assert epochs == [1, 2, 3, 4]


async def test_holding_keeps_the_epoch(locks: Locks) -> None:
    """Heartbeats and repeated attempts by the holder are not new acquisitions."""
    a, b = locks(), locks()
    assert await a.acquire()
    epoch = a.snapshot().epoch
    assert await a.still_held()
    assert await a.acquire()  # already ours: a heartbeat, not a second acquisition
    assert not await b.acquire()
    assert await a.still_held()
    assert a.snapshot().epoch == epoch == 1


async def test_failed_attempts_leave_the_holder_alone(locks: Locks) -> None:
    a, b = locks(), locks()
    assert await a.acquire()
    before = consistent(a)
    for _ in range(5):
        assert not await b.acquire()
        assert b.state is LockState.PASSIVE
    assert await a.still_held()
    after = consistent(a)
    assert (after.lock_state, after.lock_holder_pid, after.epoch) == (
        before.lock_state,
        before.lock_holder_pid,
        before.epoch,
    )


async def test_snapshots_follow_the_state_through_a_handover(locks: Locks) -> None:
    a, b = locks(), locks()
    consistent(a)
    assert await a.acquire()
    held = consistent(a)
    assert held.lock_state is LockState.ACTIVE
    assert held.epoch == 1
    assert not await b.acquire()
    waiting = consistent(b)
    assert waiting.lock_state is LockState.PASSIVE
    # A passive instance need not know the holder, but what it reports must be the holder's.
    assert waiting.lock_holder_pid in (None, held.lock_holder_pid)
    assert waiting.epoch in (None, held.epoch)
    await a.release()
    stopped = consistent(a)
    assert stopped.lock_state is LockState.STOPPED
    assert await b.acquire()
    taken = consistent(b)
    assert taken.lock_state is LockState.ACTIVE
    assert taken.epoch == 2


async def test_stopped_instance_stays_stopped_and_holds_nothing(locks: Locks) -> None:
    a, b = locks(), locks()
    assert await a.acquire()
    await a.release()
    await a.release()  # releasing twice is harmless
    assert a.state is LockState.STOPPED
    consistent(a)
    assert await b.acquire()
    assert await b.still_held()


async def test_releasing_without_holding_stops_and_leaves_the_holder_alone(
    locks: Locks,
) -> None:
    a, b, c = locks(), locks(), locks()
    assert await a.acquire()
    assert not await b.acquire()
    await b.release()
    await c.release()  # never even tried
    assert (b.state, c.state) == (LockState.STOPPED, LockState.STOPPED)
    consistent(b)
    consistent(c)
    assert a.state is LockState.ACTIVE
    assert await a.still_held()
    assert consistent(a).epoch == 1
