"""InMemoryLock: a process-local LockPort; one holder per shared registry."""

from __future__ import annotations

import os

from core.ports.lock import LockPort, LockSnapshot, LockState


class InMemoryLock(LockPort):
    def __init__(self, registry: dict[str, object] | None = None, name: str = "kiebot") -> None:
        self._registry = registry if registry is not None else {}
        self._name = name
        self._state = LockState.PASSIVE
        self._epoch: int | None = None

    @property
    def state(self) -> LockState:
        return self._state

    async def acquire(self) -> bool:
        holder = self._registry.setdefault(self._name, self)
        if holder is self and self._state is not LockState.ACTIVE:
            # Same fencing rule as PostgreSQL: every acquisition gets a new epoch.
            epochs_key = f"{self._name}:epoch"
            epoch = int(self._registry.get(epochs_key, 0)) + 1  # type: ignore[call-overload]
            self._registry[epochs_key] = epoch
            self._epoch = epoch
        self._state = LockState.ACTIVE if holder is self else LockState.PASSIVE
        return holder is self

    async def still_held(self) -> bool:
        held = self._registry.get(self._name) is self
        if not held:
            self._state = LockState.PASSIVE
        return held

    async def release(self) -> None:
        if self._registry.get(self._name) is self:
            del self._registry[self._name]
        self._state = LockState.STOPPED

    def snapshot(self) -> LockSnapshot:
        active = self._state is LockState.ACTIVE
        return LockSnapshot(
            lock_state=self._state,
            lock_holder_pid=os.getpid() if active else None,
            epoch=self._epoch if active else None,
        )
