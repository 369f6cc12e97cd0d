"""The /health snapshot: mutated by background tasks, read on the request path without I/O."""

from __future__ import annotations

import os
import time
from typing import Any

import attrs


@attrs.define
class HealthState:
    storage: str
    kie_mode: str
    status: str = "starting"
    migrations_applied: bool = False
    migrations_count: int = 0
    lock_state: str = "STARTING"
    lock_holder_pid: int | None = None
    lock_idle_duration: float | None = None
    lock_heartbeat_age: float | None = None
    lock_takeover_event: Any = None
    inbox_depth: int | None = None
    duties: dict[str, str] = attrs.field(factory=dict)
    """The lock holder's duties and their state: empty until this instance first leads,
    "stopped" after it lost the lock."""
    pid: int = attrs.field(factory=os.getpid)
    started: float = attrs.field(factory=time.monotonic)

    def update_lock(self, **fields: Any) -> None:
        """Copy the lock adapter's snapshot (whatever subset of the seed's fields it has)."""
        for name, value in fields.items():
            if hasattr(self, name) and name.startswith("lock_"):
                setattr(self, name, value)

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "uptime": round(time.monotonic() - self.started, 1),
            "storage": self.storage,
            "kie_mode": self.kie_mode,
            "migrations_applied": self.migrations_applied,
            "migrations_count": self.migrations_count,
            "lock_state": self.lock_state,
            "lock_holder_pid": self.lock_holder_pid,
            "lock_idle_duration": self.lock_idle_duration,
            "lock_heartbeat_age": self.lock_heartbeat_age,
            "lock_takeover_event": self.lock_takeover_event,
            "inbox_depth": self.inbox_depth,
            "duties": self.duties,
            "pid": self.pid,
        }
