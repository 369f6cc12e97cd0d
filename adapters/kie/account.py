"""KieAccount: the AccountPort over Kie.ai's credit balance endpoint."""

from __future__ import annotations

from decimal import Decimal

from core.ports.provider import AccountPort

from .client import HttpxKieClient


class KieAccount(AccountPort):
    def __init__(self, client: HttpxKieClient) -> None:
        self._client = client

    async def credits(self) -> Decimal | None:
        return await self._client.credits()
