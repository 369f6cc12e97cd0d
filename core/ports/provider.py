"""Provider roles next to generation: hosting users' input files, and the account balance."""

from __future__ import annotations

import abc
from decimal import Decimal


class UploaderPort(abc.ABC):
    @abc.abstractmethod
    async def upload(self, content: bytes, filename: str, mime: str) -> str:
        """Host a user's file where the provider can read it; returns its URL.

        Raises a GenerationError when the provider cannot take it.
        """


class AccountPort(abc.ABC):
    @abc.abstractmethod
    async def credits(self) -> Decimal | None:
        """The provider account's remaining credits; None when there is no account (stub)."""
