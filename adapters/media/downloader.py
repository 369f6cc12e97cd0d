"""HttpxDownloader: streams result files with a size cap; also reads ``data:`` URLs."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from urllib.parse import unquote, urlsplit

import httpx

from core.ports.media import Downloaded, DownloaderPort, DownloadError, TooLarge

_REFUSED_TYPES = ("text/html", "application/json", "text/xml", "application/xml")


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"\xff\xf3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"%PDF", "application/pdf"),
)


def sniff(content: bytes, declared: str) -> str:
    """The type the bytes say they are; an HTML error page is never a result."""
    head = content[:64].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml", b"{")):
        raise DownloadError("the result URL answered an HTML/XML/JSON page, not media")
    for magic, mime in _MAGIC:
        if content.startswith(magic):
            return mime
    if content[:4] == b"RIFF" and content[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if content[8:12] == b"WEBP" else "audio/wav"
    if content[4:8] == b"ftyp":
        return "audio/mp4" if content[8:11] == b"M4A" else "video/mp4"
    return declared or "application/octet-stream"


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
        raise TooLarge(f"result is {len(content)} bytes, over {max_bytes}")
    return Downloaded(_filename(url, mime), content, mime)


class HttpxDownloader(DownloaderPort):
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
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    # Known too large before reading a byte: the link is sent instead.
                    raise TooLarge(f"result is {declared} bytes, over {max_bytes}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:  # no or a lying Content-Length: stop at the limit
                        raise TooLarge(f"result is over {max_bytes} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise DownloadError(f"download failed: {exc.__class__.__name__}") from None
        content = b"".join(chunks)
        mime = sniff(content, mime) if not mime.startswith("text/plain") else mime
        return Downloaded(_filename(url, mime), content, mime)
