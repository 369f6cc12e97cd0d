"""Clock and identifiers: the core's only sources of time and randomness."""

from __future__ import annotations

import abc
from datetime import datetime


class Clock(abc.ABC):
    @abc.abstractmethod
    def now(self) -> datetime:
        """An aware UTC datetime."""


class IdGenerator(abc.ABC):
    @abc.abstractmethod
    def new_id(self) -> str:
        """A unique identifier for a job or a draft."""

    @abc.abstractmethod
    def secret(self) -> str:
        """An unguessable token (callback tokens)."""
