"""DownloaderPort: fetches result files, size-checked."""

from __future__ import annotations

import abc

import attrs


class DownloadError(Exception):
    pass


class TooLarge(DownloadError):
    """The file exists but is over the limit: it is delivered as a link, not retried."""


@attrs.frozen
class Downloaded:
    filename: str
    content: bytes
    mime: str


class DownloaderPort(abc.ABC):
    @abc.abstractmethod
    async def download(self, url: str, max_bytes: int) -> Downloaded:
        """Fetch ``url``; raise DownloadError if it is missing, too large or not media."""
