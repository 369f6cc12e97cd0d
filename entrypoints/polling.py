"""``kiebot polling``: getUpdates into the inbox while ACTIVE, inbox workers, /health on PORT."""

from __future__ import annotations

from entrypoints.serve import serve
from entrypoints.settings import Settings


async def run(settings: Settings) -> int:
    return await serve(settings, "polling")
