"""UpdateSourcePort: where raw Telegram updates come from when the bot fetches them (polling).

The webhook route is pushed updates and stores them through the ingest use case directly.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

RawUpdate = Mapping[str, Any]
UpdateSink = Callable[[RawUpdate], Awaitable[None]]


class UpdateSourcePort(abc.ABC):
    @abc.abstractmethod
    async def run(self, sink: UpdateSink) -> None:
        """Hand every update to ``sink``; an update counts as received only once sink returned."""

    @abc.abstractmethod
    async def stop(self) -> None: ...
