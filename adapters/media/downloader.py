"""HttpxDownloader: streams result files with a size cap; also reads ``data:`` URLs."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from urllib.parse import unquote, urlsplit

import httpx

from core.ports.media import Downloaded, DownloadError, MediaDownloader

_REFUSED_TYPES = ("text/html", "application/json", "text/xml", "application/xml")


def _filename(url: str, mime: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) if url.startswith("http") else ""
    if "." not in name:
        name = "result" + (mimetypes.guess_extension(mime) or ".bin")
    return name


def _decode_data_url(url: str, max_bytes: int) -> Downloaded:
    header, _, payload = url.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise DownloadError("only base64 data URLs are supported")
    mime = header[5:-7] or "application/octet-stream"
    try:
        content = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DownloadError(f"broken data URL: {exc}") from None
    if len(content) > max_bytes:
        raise DownloadError(f"result is {len(content)} bytes, over {max_bytes}")
    return Downloaded(_filename(url, mime), content, mime)


class HttpxDownloader(MediaDownloader):
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def download(self, url: str, max_bytes: int) -> Downloaded:
        if url.startswith("data:"):
            return _decode_data_url(url, max_bytes)
        if not url.startswith(("https://", "http://")):
            raise DownloadError(f"unsupported URL scheme in {url[:40]!r}")
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise DownloadError(f"HTTP {response.status_code} for the result file")
                mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if mime.startswith(_REFUSED_TYPES):
                    raise DownloadError(f"the result URL answered {mime}, not media")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise DownloadError(f"result is over {max_bytes} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise DownloadError(f"download failed: {exc.__class__.__name__}") from None
        return Downloaded(
            _filename(url, mime), b"".join(chunks), mime or "application/octet-stream"
        )
