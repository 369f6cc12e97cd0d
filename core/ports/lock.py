"""LockPort: who is the ACTIVE instance (polling, setWebhook, singleton jobs)."""

from __future__ import annotations

import abc
import enum


class LockState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    PASSIVE = "PASSIVE"
    STOPPED = "STOPPED"


class LockPort(abc.ABC):
    @property
    @abc.abstractmethod
    def state(self) -> LockState: ...

    @abc.abstractmethod
    async def acquire(self) -> bool:
        """Try once to become ACTIVE; True when this instance holds the lock."""

    @abc.abstractmethod
    async def still_held(self) -> bool:
        """Heartbeat: confirm the lock is still ours; steps down and returns False if not."""

    @abc.abstractmethod
    async def release(self) -> None: ...
