"""Result downloads: streamed, size-capped, and typed by their bytes, not their headers."""

from __future__ import annotations

import httpx
import pytest
import respx

from adapters.media.downloader import HttpxDownloader
from core.ports.media import DownloadError

URL = "https://tempfile.aiquickdraw.test/f/result"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32


@pytest.mark.parametrize(
    ("content", "declared", "mime"),
    [
        (PNG, "application/octet-stream", "image/png"),
        (MP4, "binary/octet-stream", "video/mp4"),
        (b"ID3\x03" + b"\x00" * 20, "", "audio/mpeg"),
    ],
)
async def test_type_comes_from_magic_bytes(
    kie: respx.MockRouter, content: bytes, declared: str, mime: str
) -> None:
    kie.get(URL).mock(
        return_value=httpx.Response(200, content=content, headers={"Content-Type": declared})
    )
    result = await HttpxDownloader(httpx.AsyncClient()).download(URL, 1024)
    assert (result.mime, result.content) == (mime, content)


@pytest.mark.parametrize("declared", ["image/png", "application/octet-stream"])
async def test_html_error_page_is_not_a_result(kie: respx.MockRouter, declared: str) -> None:
    page = b"<!DOCTYPE html><html><body>403 Forbidden</body></html>"
    kie.get(URL).mock(
        return_value=httpx.Response(200, content=page, headers={"Content-Type": declared})
    )
    with pytest.raises(DownloadError, match="not media"):
        await HttpxDownloader(httpx.AsyncClient()).download(URL, 1024)


async def test_oversized_result_is_refused_while_streaming(kie: respx.MockRouter) -> None:
    kie.get(URL).mock(return_value=httpx.Response(200, content=PNG * 100))
    with pytest.raises(DownloadError, match="over 1024"):
        await HttpxDownloader(httpx.AsyncClient()).download(URL, 1024)


async def test_expired_result_url_is_an_error(kie: respx.MockRouter) -> None:
    kie.get(URL).mock(return_value=httpx.Response(404, text="gone"))
    with pytest.raises(DownloadError, match="404"):
        await HttpxDownloader(httpx.AsyncClient()).download(URL, 1024)
