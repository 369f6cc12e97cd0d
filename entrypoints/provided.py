"""Resolving a dependency-injector call from code that runs in both modes of a container."""

from __future__ import annotations

import inspect
from typing import Any


async def provided(call: Any) -> Any:
    """What a container call gives, awaited when it is in async mode (a resource such as the
    pool is behind it) and as it is otherwise (the in-memory twins: nothing to open)."""
    value = call()
    return await value if inspect.isawaitable(value) else value
