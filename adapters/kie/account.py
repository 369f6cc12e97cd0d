"""KieAccount: the ProviderAccount over Kie.ai's credit balance endpoint."""

from __future__ import annotations

from decimal import Decimal

from core.ports.provider import ProviderAccount

from .client import HttpxKieClient


class KieAccount(ProviderAccount):
    def __init__(self, client: HttpxKieClient) -> None:
        self._client = client

    async def credits(self) -> Decimal | None:
        return await self._client.credits()
