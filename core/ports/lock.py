"""LockPort: who is the ACTIVE instance (polling, setWebhook, singleton jobs)."""

from __future__ import annotations

import abc
import enum
from typing import Any

import attrs


class LockState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    PASSIVE = "PASSIVE"
    STOPPED = "STOPPED"


class LockConfigError(ValueError):
    """Lock timings that would let two healthy instances take the lock from each other."""


@attrs.frozen
class LockTimings:
    """How often the holder proves it is alive and when the others may take over.

    A healthy holder's heartbeat is at most about one interval old, so a stale threshold above
    twice the interval means nobody ever terminates a healthy holder.
    """

    heartbeat_interval: float = 15.0
    """LOCK_HEARTBEAT_INTERVAL: seconds between heartbeats of the holder."""
    stale_idle_seconds: float = 120.0
    """LOCK_STALE_IDLE_SECONDS: a holder whose heartbeat is older than this is terminated."""
    retry_interval: float = 3.0
    """LOCK_RETRY_INTERVAL: seconds between acquisition attempts of a PASSIVE instance."""

    def __attrs_post_init__(self) -> None:
        problems = []
        if self.heartbeat_interval <= 0:
            problems.append(
                f"LOCK_HEARTBEAT_INTERVAL must be > 0 (got {self.heartbeat_interval:g})"
            )
        if self.retry_interval <= 0:
            problems.append(f"LOCK_RETRY_INTERVAL must be > 0 (got {self.retry_interval:g})")
        if self.stale_idle_seconds <= 2 * self.heartbeat_interval:
            problems.append(
                f"LOCK_STALE_IDLE_SECONDS ({self.stale_idle_seconds:g}) must be greater than "
                f"2 x LOCK_HEARTBEAT_INTERVAL ({self.heartbeat_interval:g}), otherwise a healthy "
                "holder can look stale and be terminated"
            )
        if problems:
            raise LockConfigError("; ".join(problems))

    @property
    def lease_seconds(self) -> float:
        """How long after sending its last confirmed heartbeat the holder may act as ACTIVE.

        Nobody may take over before that heartbeat is ``stale_idle_seconds`` old, so acting
        within this lease is safe even if the process was paused and already replaced. A
        healthy holder renews every interval, well inside it (stale > 2 x interval).
        """
        return self.stale_idle_seconds - self.heartbeat_interval / 2


@attrs.frozen
class LockSnapshot:
    """What ``/health`` shows about the lock; cheap to take (no I/O)."""

    lock_state: LockState
    lock_holder_pid: int | None = None
    """The holder's PostgreSQL backend pid (ours when ACTIVE), as last seen."""
    lock_idle_duration: float | None = None
    """Seconds since the holder's session last did anything."""
    lock_heartbeat_age: float | None = None
    """Seconds since the holder's last heartbeat."""
    lock_takeover_event: str | None = None
    """The last takeover or loss this instance saw, one line, or None."""
    epoch: int | None = None
    """The fencing epoch of the current holder (incremented on every acquisition)."""

    def as_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["lock_state"] = str(self.lock_state)
        return data


class LockPort(abc.ABC):
    @property
    @abc.abstractmethod
    def state(self) -> LockState:
        """ACTIVE only while it is safe to act as the single active instance."""

    @abc.abstractmethod
    async def acquire(self) -> bool:
        """Try once to become ACTIVE; True when this instance holds the lock."""

    @abc.abstractmethod
    async def still_held(self) -> bool:
        """Heartbeat: confirm the lock is still ours; steps down and returns False if not."""

    @abc.abstractmethod
    async def release(self) -> None: ...

    @abc.abstractmethod
    def snapshot(self) -> LockSnapshot:
        """The lock fields of ``/health``, from what the last heartbeat or attempt saw."""
