"""MetricsPort: the counters the core moves; the adapter decides where they are exported."""

from __future__ import annotations

import abc
from typing import Literal

UpdateOrigin = Literal["webhook", "polling"]
"""How an update reached us; the label its counters carry."""


class MetricsPort(abc.ABC):
    @abc.abstractmethod
    def update_ingested(self, source: UpdateOrigin) -> None:
        """An update was stored in the inbox for the first time."""

    @abc.abstractmethod
    def update_duplicate(self, source: UpdateOrigin) -> None:
        """An update arrived again after it had already been stored (nothing was written)."""

    @abc.abstractmethod
    def update_processed(self) -> None:
        """A handler finished an update; it is marked processed."""

    @abc.abstractmethod
    def update_failed(self) -> None:
        """A handler attempt raised; the update is retried later or parked."""

    @abc.abstractmethod
    def update_parked(self) -> None:
        """An update was given up on (malformed, or out of attempts)."""
