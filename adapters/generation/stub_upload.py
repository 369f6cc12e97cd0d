"""StubUploader: the UploaderPort of the offline stub mode; nothing leaves the process.

It returns a URL under the reserved ``.invalid`` domain (RFC 2606, never resolvable), named
by a hash of the content: the stub generation ignores inputs, and a data: URL of a 10 MB
photo would bloat the FSM state and the job row for nothing.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from core.ports.provider import UploaderPort

STUB_UPLOAD_BASE = "https://stub-uploads.invalid/"


class StubUploader(UploaderPort):
    def __init__(self) -> None:
        self.uploaded: list[tuple[str, str, int]] = []
        """(url, mime, size) of every upload, for tests and the operator's debugging."""

    async def upload(self, content: bytes, filename: str, mime: str) -> str:
        digest = hashlib.sha256(content).hexdigest()[:24]
        url = f"{STUB_UPLOAD_BASE}{digest}/{quote(filename or 'file')}"
        self.uploaded.append((url, mime, len(content)))
        return url
