"""A tiny Bot API over HTTP (for real processes via TELEGRAM_API_BASE): records every call."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.telegram import BOT_USER


class FakeBotApiServer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(5000)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self._http.server_address[1]}"

    def methods(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.calls]

    def called(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        with self._lock:
            self.calls.append((method, params))
            if method == "getUpdates":
                offset = int(params.get("offset") or 0)
                return [u for u in self.updates if u["update_id"] >= offset]
        if method == "getMe":
            return BOT_USER
        if method.startswith(("send", "edit")):
            chat = params.get("chat_id", 0)
            return {
                "message_id": next(self._ids),
                "date": 1_700_000_000,
                "chat": {"id": int(chat), "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
        return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                method = self.path.rsplit("/", 1)[-1]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                params = _params(raw, self.headers.get("Content-Type", ""))
                body = json.dumps({"ok": True, "result": server._answer(method, params)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler

    @contextmanager
    def running(self) -> Iterator[FakeBotApiServer]:
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._http.shutdown()
            self._http.server_close()


def _params(raw: bytes, content_type: str) -> dict[str, Any]:
    """aiogram posts multipart/form-data; the fields we check are plain text parts."""
    if "multipart/form-data" in content_type:
        boundary = content_type.split("boundary=")[-1].encode()
        out: dict[str, Any] = {}
        for part in raw.split(b"--" + boundary):
            head, _, value = part.partition(b"\r\n\r\n")
            if b'name="' in head:
                name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
                out[name] = value.rstrip(b"\r\n").decode(errors="replace")
        return out
    if "json" in content_type:
        return json.loads(raw or b"{}")
    return dict(parse_qsl(raw.decode()))
