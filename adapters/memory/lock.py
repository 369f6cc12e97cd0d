"""InMemoryLock: a process-local LockPort; one holder per shared registry."""

from __future__ import annotations

from core.ports.lock import LockPort, LockState


class InMemoryLock(LockPort):
    def __init__(self, registry: dict[str, object] | None = None, name: str = "kiebot") -> None:
        self._registry = registry if registry is not None else {}
        self._name = name
        self._state = LockState.PASSIVE

    @property
    def state(self) -> LockState:
        return self._state

    async def acquire(self) -> bool:
        holder = self._registry.setdefault(self._name, self)
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
