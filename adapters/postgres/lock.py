"""PostgresAdvisoryLock: the LockPort on a session advisory lock held by a dedicated connection.

The lock lives on one autocommit connection that never comes from a pool (a pooled connection
would carry the session lock to whoever borrows it next). The
holder heartbeats through that same connection, so a fresh heartbeat proves the lock-holding
session itself is alive. Each heartbeat also checks, in the same statement, that
pg_locks still shows the lock for our backend and that the fencing epoch is ours; anything else,
an error or a timeout steps down at once. ``state`` reports ACTIVE only within a
lease shorter than the stale threshold, so a process resumed after a long pause stops acting as
ACTIVE before it has even talked to the database; the next heartbeat then tells whether the
lock is still ours (nobody can take it without terminating our session).

A PASSIVE instance that finds the lock busy reads the holder's heartbeat age (computed by the
server's clock) and terminates the holder's backend only when it is older than
``LOCK_STALE_IDLE_SECONDS``; LockTimings guarantees that never happens to a healthy holder.

Use: ``PostgresAdvisoryLock(url, name="kiebot:active", timings=LockTimings(...))``, then
``acquire()`` / ``still_held()`` / ``release()`` / ``snapshot()``; usually driven by
``core.usecases.lock_supervisor.LockSupervisor``. Needs migration ``004_lock_heartbeat.sql``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

from adapters.postgres.lock_conn import LockConnection, LockDbError
from adapters.postgres.lock_sql import (
    CLAIM,
    HEARTBEAT,
    OBSERVE,
    RELEASE,
    TERMINATE,
    TRY_LOCK,
    UNLOCK,
    lock_key,
)
from core.ports.lock import LockPort, LockSnapshot, LockState, LockTimings

log = logging.getLogger(__name__)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class PostgresAdvisoryLock(LockPort):
    def __init__(
        self,
        url: str,
        *,
        name: str = "kiebot:active",
        timings: LockTimings | None = None,
        instance_id: str | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self._name = name
        self._timings = timings or LockTimings()
        self._instance = instance_id or f"{socket.gethostname()}:{os.getpid()}"
        self._db = LockConnection(url, connect_timeout=connect_timeout)
        k1, k2 = lock_key(name)
        self._params: dict[str, Any] = {"name": name, "k1": k1, "k2": k2}
        self._state = LockState.PASSIVE
        self._epoch: int | None = None
        self._backend_pid: int | None = None
        self._confirmed_at = 0.0  # monotonic time the last confirmed heartbeat was sent
        self._event: str | None = None
        # What a PASSIVE instance last saw of the holder.
        self._holder: int | None = None
        self._holder_seen_at = 0.0
        self._holder_epoch: int | None = None
        self._holder_age: float | None = None
        self._holder_idle: float | None = None
        self._observed_at = 0.0

    @property
    def state(self) -> LockState:
        if self._state is LockState.ACTIVE and not self._lease_valid():
            return LockState.PASSIVE
        return self._state

    def _lease_valid(self) -> bool:
        return time.monotonic() - self._confirmed_at < self._timings.lease_seconds

    async def acquire(self) -> bool:
        if self._state is LockState.ACTIVE:
            return await self.still_held()
        try:
            if await self._try_claim():
                return True
            if await self._observe_holder() and await self._terminate_stale():
                return await self._try_claim()
        except LockDbError as exc:
            log.warning("[LOCK] Acquisition attempt failed: %s", exc)
            self._db.discard()
            self._become_passive()
        return False

    async def still_held(self) -> bool:
        if self._state is not LockState.ACTIVE:
            return False
        # An expired lease only hides ACTIVE from readers of ``state``; whether the lock is
        # still ours is for PostgreSQL to say: a takeover terminates our session first.
        sent = time.monotonic()
        try:
            row = await self._sql(HEARTBEAT, self._timings.heartbeat_interval, epoch=self._epoch)
        except LockDbError as exc:
            self._step_down(f"heartbeat failed: {exc}")
            return False
        if row is None:
            self._step_down("pg_locks or the epoch says the lock is no longer ours")
            return False
        self._confirmed_at = sent
        return True

    async def release(self) -> None:
        if self._state is LockState.ACTIVE:
            try:
                await self._sql(RELEASE, 5.0, epoch=self._epoch)
                await self._sql(UNLOCK, 5.0)
            except LockDbError as exc:
                log.warning("[LOCK] Release failed (%s); closing the connection instead", exc)
            log.info("[LOCK] Released epoch=%s", self._epoch, extra={"lock_epoch": self._epoch})
        self._state = LockState.STOPPED
        self._epoch = None
        self._forget_holder()
        await self._db.close()

    def snapshot(self) -> LockSnapshot:
        now = time.monotonic()
        state = self.state
        if state is LockState.ACTIVE:
            # Our session's last statement was the heartbeat, so idle time is heartbeat age.
            age = now - self._confirmed_at
            return LockSnapshot(state, self._backend_pid, age, age, self._event, self._epoch)
        since = now - self._observed_at

        def later(value: float | None) -> float | None:
            return None if value is None else round(value + since, 3)

        return LockSnapshot(
            state,
            self._holder,
            later(self._holder_idle),
            later(self._holder_age),
            self._event,
            self._holder_epoch,
        )

    # -- steps -------------------------------------------------------------------------------

    async def _try_claim(self) -> bool:
        sent = time.monotonic()
        got = await self._sql(TRY_LOCK, self._timings.heartbeat_interval)
        if not got or not got[0]:
            return False
        # From here on the session holds the lock; any failure discards the connection,
        # which releases it (no lock may outlive a step we did not see finish).
        row = await self._sql(CLAIM, self._timings.heartbeat_interval, instance=self._instance)
        if row is None:  # pragma: no cover - INSERT … RETURNING always returns a row
            raise LockDbError("claiming the heartbeat row returned nothing")
        self._epoch, self._backend_pid = int(row[0]), int(row[1])
        self._confirmed_at = sent
        self._state = LockState.ACTIVE
        self._forget_holder()
        log.info(
            "[LOCK] ACTIVE MODE: PostgreSQL advisory lock acquired epoch=%d (backend pid=%d)",
            self._epoch,
            self._backend_pid,
            extra={"lock_event": "active", "lock_epoch": self._epoch, "lock_name": self._name},
        )
        return True

    async def _observe_holder(self) -> bool:
        """Record who holds the lock; True when that holder is stale."""
        row = await self._sql(OBSERVE, self._timings.heartbeat_interval)
        now = time.monotonic()
        if row is None:  # released between our try and this look: retry next round
            return False
        pid, hb_pid, epoch, hb_age, idle = row
        paused = now - self._observed_at > 2 * self._timings.retry_interval + 1
        if pid != self._holder or paused:
            self._holder_seen_at = now
        if pid != self._holder or self._state is not LockState.PASSIVE:
            log.info(
                "[LOCK] PASSIVE MODE - another instance is ACTIVE (holder pid=%s), "
                "this instance will wait",
                pid,
                extra={"lock_event": "passive", "lock_holder_pid": pid},
            )
        self._become_passive()
        self._holder, self._observed_at, self._holder_idle = pid, now, idle
        if hb_pid == pid and hb_age is not None:
            self._holder_epoch, age = epoch, float(hb_age)
        else:
            # The holder has not written its first heartbeat yet: count from when we first
            # saw it hold the lock, so a holder hung right after acquiring is still caught.
            self._holder_epoch, age = None, now - self._holder_seen_at
        self._holder_age = age
        stale = age > self._timings.stale_idle_seconds
        if stale:
            log.warning(
                "[LOCK] STALE LOCK: pid=%s heartbeat_age=%.1fs (>%gs)",
                pid,
                age,
                self._timings.stale_idle_seconds,
                extra={"lock_event": "stale", "lock_holder_pid": pid, "lock_heartbeat_age": age},
            )
        return stale

    async def _terminate_stale(self) -> bool:
        pid = self._holder
        log.warning(
            "[LOCK] Terminating stale process pid=%s",
            pid,
            extra={"lock_event": "terminate", "lock_holder_pid": pid},
        )
        stale = self._timings.stale_idle_seconds
        # pg_terminate_backend waits up to 3 s for the backend to exit, so the lock is free
        # when it returns true.
        row = await self._sql(
            TERMINATE, self._timings.heartbeat_interval + 5, pid=pid, wait_ms=3000, stale=stale
        )
        if row is None or not row[0]:
            log.warning("[LOCK] Holder pid=%s was not terminated (fresh again or gone)", pid)
            return False
        self._event = (
            f"{_now_iso()} terminated stale holder pid={pid} "
            f"heartbeat_age={self._holder_age:.1f}s epoch={self._holder_epoch}"
        )
        return True

    def _step_down(self, reason: str) -> None:
        log.warning(
            "[LOCK] LOST: stepping down (%s) epoch=%s",
            reason,
            self._epoch,
            extra={"lock_event": "lost", "lock_epoch": self._epoch, "lock_reason": reason},
        )
        self._event = f"{_now_iso()} lost epoch={self._epoch}: {reason}"
        self._become_passive()
        # Closing the session releases the advisory lock if PostgreSQL still thinks it is ours.
        self._db.discard()

    def _forget_holder(self) -> None:
        self._holder = self._holder_epoch = self._holder_age = self._holder_idle = None

    def _become_passive(self) -> None:
        self._state = LockState.PASSIVE
        self._epoch = None
        self._backend_pid = None

    async def _sql(self, sql: str, seconds: float, **extra: Any) -> tuple[Any, ...] | None:
        return await self._db.fetchone(sql, {**self._params, **extra}, seconds)
