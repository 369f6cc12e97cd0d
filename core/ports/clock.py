"""The clock and identifiers: the core's only sources of time and randomness."""

from __future__ import annotations

import abc
from datetime import datetime


class ClockPort(abc.ABC):
    @abc.abstractmethod
    def now(self) -> datetime:
        """An aware UTC datetime."""


class IdsPort(abc.ABC):
    @abc.abstractmethod
    def new_id(self) -> str:
        """A unique identifier for a job or a draft."""

    @abc.abstractmethod
    def secret(self) -> str:
        """An unguessable token (callback tokens)."""
