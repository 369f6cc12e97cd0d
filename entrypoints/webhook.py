"""``kiebot webhook``: Telegram posts into the inbox; every instance runs workers (active-active),
the ACTIVE one also calls setWebhook and runs the singleton jobs."""

from __future__ import annotations

from entrypoints.serve import serve
from entrypoints.settings import Settings


async def run(settings: Settings) -> int:
    return await serve(settings, "webhook")
