"""KieUploader: the UploaderPort over Kie.ai's file upload API."""

from __future__ import annotations

from core.ports.provider import UploaderPort

from .client import HttpxKieClient


class KieUploader(UploaderPort):
    def __init__(self, client: HttpxKieClient) -> None:
        self._client = client

    async def upload(self, content: bytes, filename: str, mime: str) -> str:
        return await self._client.upload(content, filename, mime)
