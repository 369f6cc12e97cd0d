"""PostgresAdvisoryLock in one process on real PostgreSQL: one holder, fencing, loss, takeover.

Each test pins one way a lock like this has failed in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest

from adapters.postgres.lock import PostgresAdvisoryLock
from adapters.postgres.lock_sql import lock_key
from core.ports.lock import LockState, LockTimings

pytestmark = pytest.mark.integration

NAME = "kiebot:test"
DEFAULT = LockTimings()  # 15 s heartbeat, 120 s stale


def sql(url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def holder_pids(url: str) -> list[int]:
    k1, k2 = lock_key(NAME)
    rows = sql(
        url,
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
        " AND classid::bigint = %s AND objid::bigint = %s",
        k1,
        k2,
    )
    return [int(r[0]) for r in rows]  # type: ignore[call-overload]


def backdate_heartbeat(url: str, seconds: float) -> None:
    sql(
        url,
        "UPDATE lock_heartbeat SET last_heartbeat = clock_timestamp() - make_interval(secs => %s)"
        " WHERE name = %s",
        seconds,
        NAME,
    )


async def eventually(check: Callable[[], bool], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


@pytest.fixture
async def locks(pg_url: str) -> AsyncIterator[Callable[..., PostgresAdvisoryLock]]:
    made: list[PostgresAdvisoryLock] = []

    def make(timings: LockTimings = DEFAULT, url: str = pg_url) -> PostgresAdvisoryLock:
        made.append(PostgresAdvisoryLock(url, name=NAME, timings=timings))
        return made[-1]

    yield make
    for lock in made:
        await lock.release()


async def test_two_instances_exactly_one_active(pg_url: str, locks) -> None:
    a, b = locks(), locks()
    results = await asyncio.gather(a.acquire(), b.acquire())
    assert sorted(results) == [False, True]
    active, passive = (a, b) if results[0] else (b, a)
    assert (active.state, passive.state) == (LockState.ACTIVE, LockState.PASSIVE)
    assert holder_pids(pg_url) == [active.snapshot().lock_holder_pid]
    # Racing, the loser may look before the winner's first heartbeat row: look again.
    assert not await passive.acquire()
    seen = passive.snapshot()
    assert seen.lock_holder_pid == active.snapshot().lock_holder_pid
    assert seen.epoch == active.snapshot().epoch == 1
    assert seen.lock_heartbeat_age is not None
    assert seen.lock_heartbeat_age < 5


async def test_epoch_increments_on_every_acquisition(locks) -> None:
    a, b = locks(), locks()
    assert await a.acquire()
    assert a.snapshot().epoch == 1
    await a.release()
    assert await b.acquire()
    assert b.snapshot().epoch == 2
    await b.release()
    assert await a.acquire()
    assert a.snapshot().epoch == 3


async def test_holder_whose_session_is_killed_steps_down_and_other_takes_over(
    pg_url: str, locks, caplog: pytest.LogCaptureFixture
) -> None:
    """The holder notices on its next heartbeat instead of staying ACTIVE."""
    a, b = locks(), locks()
    assert await a.acquire()
    assert not await b.acquire()
    sql(pg_url, "SELECT pg_terminate_backend(%s)", a.snapshot().lock_holder_pid)
    with caplog.at_level(logging.INFO, "adapters"):
        assert not await a.still_held()
    assert a.state is LockState.PASSIVE
    assert "[LOCK] LOST: stepping down" in caplog.text
    assert a.snapshot().lock_takeover_event is not None
    assert await b.acquire()
    assert b.snapshot().epoch == 2


async def test_stale_holder_is_terminated_and_taken_over(
    pg_url: str, locks, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = locks(), locks()
    assert await a.acquire()
    stuck_pid = a.snapshot().lock_holder_pid
    backdate_heartbeat(pg_url, DEFAULT.stale_idle_seconds + 1)  # as if A hung for 121 s
    with caplog.at_level(logging.INFO, "adapters"):
        assert await b.acquire()
    assert f"[LOCK] STALE LOCK: pid={stuck_pid} heartbeat_age=121" in caplog.text
    assert f"[LOCK] Terminating stale process pid={stuck_pid}" in caplog.text
    assert holder_pids(pg_url) == [b.snapshot().lock_holder_pid]
    assert b.snapshot().epoch == 2
    assert f"terminated stale holder pid={stuck_pid}" in str(b.snapshot().lock_takeover_event)
    assert not await a.still_held()  # the resumed holder learns it lost, and steps down
    assert a.state is LockState.PASSIVE


async def test_fresh_holder_is_never_terminated(
    pg_url: str, locks, caplog: pytest.LogCaptureFixture
) -> None:
    """A holder whose heartbeat is younger than the threshold is left alone."""
    a, b = locks(), locks()
    assert await a.acquire()
    backdate_heartbeat(pg_url, DEFAULT.stale_idle_seconds - 1)
    with caplog.at_level(logging.INFO, "adapters"):
        assert not await b.acquire()
    assert "STALE" not in caplog.text
    assert "Terminating" not in caplog.text
    assert await a.still_held()
    assert a.snapshot().epoch == 1


async def test_healthy_holder_keeps_the_lock_under_the_tightest_thresholds(locks) -> None:
    """No takeover loop, even with stale barely above 2 x heartbeat."""
    tight = LockTimings(heartbeat_interval=0.1, stale_idle_seconds=0.25, retry_interval=0.05)
    a, b = locks(tight), locks(tight)
    assert await a.acquire()

    async def heartbeat() -> None:
        # What the supervisor does: sleep one interval, then heartbeat.
        while True:
            await asyncio.sleep(tight.heartbeat_interval)
            if not await a.still_held():
                return

    beating = asyncio.create_task(heartbeat())
    deadline = time.monotonic() + 10 * tight.stale_idle_seconds
    while time.monotonic() < deadline:
        assert not await b.acquire()
        await asyncio.sleep(tight.retry_interval)
    assert not beating.done()
    assert a.state is LockState.ACTIVE
    assert a.snapshot().epoch == 1
    beating.cancel()


async def test_epoch_changed_under_the_holder_steps_it_down_and_frees_the_lock(
    pg_url: str, locks
) -> None:
    a, b = locks(), locks()
    assert await a.acquire()
    sql(pg_url, "UPDATE lock_heartbeat SET epoch = epoch + 1 WHERE name = %s", NAME)
    assert not await a.still_held()
    assert await eventually(lambda: holder_pids(pg_url) == [])  # the session was closed
    assert await b.acquire()


async def test_state_stops_saying_active_when_heartbeats_stop(locks) -> None:
    """A paused holder must not act before it has checked; the database then decides."""
    short = LockTimings(heartbeat_interval=0.1, stale_idle_seconds=0.3, retry_interval=0.1)
    a = locks(short)
    assert await a.acquire()
    await asyncio.sleep(short.lease_seconds + 0.05)  # the pause under test
    assert a.state is LockState.PASSIVE
    assert await a.still_held()  # nobody took over: same session, same epoch
    assert a.state is LockState.ACTIVE
    assert a.snapshot().epoch == 1


async def test_missing_heartbeat_table_is_reported_and_the_lock_not_kept(
    empty_pg_url: str, locks, caplog: pytest.LogCaptureFixture
) -> None:
    """A missing migration is named, and no half-acquired lock is left behind."""
    a = locks(url=empty_pg_url)
    with caplog.at_level(logging.INFO, "adapters"):
        assert not await a.acquire()
    assert "lock_heartbeat is missing: apply migration 004" in caplog.text
    assert a.state is LockState.PASSIVE
    assert await eventually(lambda: holder_pids(empty_pg_url) == [])


async def test_unreachable_database_is_a_failed_attempt_not_an_exception(locks) -> None:
    a = locks(url="postgresql://postgres@127.0.0.1:1/nothing")
    assert not await a.acquire()
    assert a.state is LockState.PASSIVE
    assert not await a.still_held()


async def test_cancelled_acquisition_leaves_no_hidden_lock(pg_url: str, locks) -> None:
    """An attempt we gave up on must not hold the lock behind our back."""
    a, b = locks(), locks()
    for delay in (0, 0.001, 0.003, 0.006, 0.01):  # at various points inside the attempt
        attempt = asyncio.create_task(a.acquire())
        await asyncio.sleep(delay)
        attempt.cancel()
        await asyncio.gather(attempt, return_exceptions=True)
        if a.state is LockState.ACTIVE:  # it finished before the cancel: legitimate
            await a.release()
    assert await eventually(lambda: holder_pids(pg_url) == [])
    assert await b.acquire()


async def test_release_unlocks_and_snapshot_is_json(pg_url: str, locks) -> None:
    a = locks()
    assert await a.acquire()
    body = json.dumps(a.snapshot().as_dict())
    fields = json.loads(body)
    assert fields["lock_state"] == "ACTIVE"
    assert fields["lock_holder_pid"] == holder_pids(pg_url)[0]
    assert fields["lock_heartbeat_age"] < 5
    await a.release()
    assert a.state is LockState.STOPPED
    assert holder_pids(pg_url) == []
    rows = sql(pg_url, "SELECT holder_pid, released_at IS NOT NULL FROM lock_heartbeat")
    assert rows == [(None, True)]
