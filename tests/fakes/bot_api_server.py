"""FakeBotApiServer: the Telegram Bot API over real HTTP, for processes pointed at it.

``kiebot polling`` / ``kiebot webhook`` run with ``TELEGRAM_API_BASE`` set to ``.base`` and talk
to this server exactly as they talk to api.telegram.org: ``/bot<token>/<method>`` with JSON,
urlencoded or multipart bodies (aiogram streams multipart with chunked transfer encoding), and
``/file/bot<token>/<path>`` for downloads. The answers are full Telegram objects, not toy JSON:
messages carry per-chat ids, the chat, the bot as ``from``, detected entities, echoed
``link_preview_options`` and inline keyboards, PhotoSize arrays, and one field no client knows
yet, because a bot that breaks on an unknown field breaks on the next Bot API release.

State is kept per chat (messages with their latest content, edits, deletions), per update
(pending until a later ``offset`` confirms it, or until a webhook delivery got a 2xx), and per
callback query (answerable once, with the time it was handed out). Users are played with
``api.user(...)`` (see tests/fakes/tg_user.py).

Everything runs on 127.0.0.1 in daemon threads and is torn down by ``running()``/``stop()``.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import itertools
import json
import mimetypes
import re
import secrets
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.telegram import BOT_USER
from tests.fakes.updates import next_update_id
from tests.fakes.waiting import wait_for

if TYPE_CHECKING:
    from tests.fakes.tg_user import BotMessage, TgUser

MB = 1024 * 1024
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

# ---------------------------------------------------------------------------------------------
# HTTP plumbing shared with the Kie.ai fake


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart body."""

    filename: str
    content_type: str
    content: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {len(self.content)} bytes)"


class BodyTooLarge(Exception):
    pass


class LoopbackHttpServer(ThreadingHTTPServer):
    """A threaded server on 127.0.0.1:0 that can also cut its open keep-alive connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with self._open_lock:
            self._open.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), daemon=True, name="fake-http"
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            # Idle keep-alive connections would otherwise keep handler threads alive.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.server_close()


def handler_serving(
    serve: Callable[[BaseHTTPRequestHandler], None],
) -> type[BaseHTTPRequestHandler]:
    """A request handler class that passes GET, HEAD and POST to ``serve``, logging nothing."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            serve(self)

        def do_POST(self) -> None:
            serve(self)

        def do_HEAD(self) -> None:
            serve(self)

        def log_message(self, *args: Any) -> None:
            return None

    return Handler


def read_body(handler: BaseHTTPRequestHandler, limit: int | None = None) -> bytes:
    """The request body, for Content-Length and for chunked transfer encoding alike."""
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        chunks: list[bytes] = []
        size = 0
        while True:
            line = handler.rfile.readline(65537).strip()
            length = int(line.split(b";", 1)[0] or b"0", 16)
            if length == 0:
                while handler.rfile.readline(65537).strip():  # trailers
                    pass
                return b"".join(chunks)
            size += length
            if limit is not None and size > limit:
                raise BodyTooLarge
            chunks.append(handler.rfile.read(length))
            handler.rfile.readline(3)
    length = int(handler.headers.get("Content-Length") or 0)
    if limit is not None and length > limit:
        raise BodyTooLarge
    return handler.rfile.read(length) if length else b""


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    main, *rest = value.split(";")
    params: dict[str, str] = {}
    for item in re.finditer(
        r';\s*([\w*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', ";" + ";".join(rest)
    ):
        key, raw = item.group(1).lower(), item.group(2).strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[key] = raw
    return main.strip().lower(), params


def parse_multipart(raw: bytes, boundary: str) -> dict[str, Any]:
    """Text parts become str, file parts UploadedFile; binary content is kept byte for byte."""
    out: dict[str, Any] = {}
    delimiter = b"--" + boundary.encode()
    for part in raw.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, content = part.partition(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        _, disposition = _header_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        filename = disposition.get("filename")
        if filename is None and "filename*" in disposition:
            filename = disposition["filename*"].split("''", 1)[-1]
        if filename is not None:
            ctype = headers.get("content-type", "application/octet-stream")
            out[name] = UploadedFile(filename, ctype, content)
        else:
            out[name] = content.decode("utf-8", "replace")
    return out


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    kind, params = _header_params(content_type or "")
    if kind == "multipart/form-data" and "boundary" in params:
        return parse_multipart(raw, params["boundary"])
    if kind.endswith("json"):
        value = json.loads(raw or b"{}")
        if not isinstance(value, dict):
            raise ValueError("a JSON body must be an object")
        return value
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def send_bytes(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def post_json(
    url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, str, bytes, str]:
    """POST to a loopback URL without proxies; (status, error text, body, content type)."""
    parts = urlsplit(url)
    conn_cls = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_cls(parts.hostname or "", parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request(
            "POST", path, body=body, headers={"Content-Type": "application/json", **headers}
        )
        response = conn.getresponse()
        data = response.read()
        return response.status, response.reason, data, response.getheader("Content-Type") or ""
    except ConnectionRefusedError:
        return None, "Connection refused", b"", ""
    except TimeoutError:
        return None, "Read timeout expired", b"", ""
    except ConnectionResetError:
        return None, "Connection reset by peer", b"", ""
    except OSError as exc:
        return None, f"Connection error: {exc}", b"", ""
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Media helpers


def make_png(
    width: int = 64, height: int = 64, rgb: tuple[int, int, int] = (200, 40, 90)
) -> bytes:
    """A real, decodable PNG (truecolour, one colour)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG or JPEG header, as Telegram reads them."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        return struct.unpack(">II", content[16:24])
    if content.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(content):
            if content[i] != 0xFF:
                i += 1
                continue
            marker = content[i + 1]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
                height, width = struct.unpack(">HH", content[i + 5 : i + 9])
                return width, height
            i += 2 + struct.unpack(">H", content[i + 2 : i + 4])[0]
    return None


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------------------------------------
# Telegram text: entity detection and parse_mode=HTML

_AUTO = re.compile(
    r"(?P<url>\b(?:https?://|www\.)[^\s<>\"]+|\bt\.me/[^\s<>\"]+)"
    r"|(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}\b)"
    r"|(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/]))"
    r"|(?P<mention>(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b)"
    r"|(?P<hashtag>(?<![\w#])#\w*[^\W\d]\w*)"
)
_NO_AUTO_INSIDE = {"code", "pre", "text_link", "url", "email"}


def detect_entities(
    text: str, existing: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Entities Telegram finds by itself: links, e-mails, /commands, @mentions, #hashtags."""
    taken = [
        (e["offset"], e["offset"] + e["length"])
        for e in existing or []
        if e.get("type") in _NO_AUTO_INSIDE
    ]
    found: list[dict[str, Any]] = []
    for match in _AUTO.finditer(text):
        kind = match.lastgroup or "url"
        value = match.group(0)
        if kind == "url":
            value = value.rstrip(".,!?:;'\")]}")
        if not value:
            continue
        start = _u16(text[: match.start()])
        length = _u16(value)
        if any(a < start + length and start < b for a, b in taken):
            continue
        found.append({"offset": start, "length": length, "type": kind})
    return found


def first_url(text: str) -> str | None:
    for entity in detect_entities(text):
        if entity["type"] == "url":
            raw = text.encode("utf-16-le")[
                2 * entity["offset"] : 2 * (entity["offset"] + entity["length"])
            ]
            url = raw.decode("utf-16-le")
            return url if "://" in url else "http://" + url
    return None


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_TOKEN = re.compile(
    r"<(/?)([A-Za-z][\w-]*)((?:\s[^<>]*)?)>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|<"
)
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class TelegramError(Exception):
    """An ``ok: false`` answer: HTTP status = error_code, as the Bot API sends it."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def bad(description: str) -> TelegramError:
    return TelegramError(400, f"Bad Request: {description}")


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML subset → (text, entities); unknown or unbalanced tags are a 400."""
    out: list[str] = []
    stack: list[tuple[str, dict[str, Any], int]] = []
    entities: list[dict[str, Any]] = []
    pos = 0

    def byte_offset(index: int) -> int:
        return len(source[:index].encode())

    for match in _HTML_TOKEN.finditer(source):
        out.append(source[pos : match.start()])
        pos = match.end()
        if match.group(0) == "<":
            raise bad(
                'can\'t parse entities: Unsupported start tag "" at byte offset '
                f"{byte_offset(match.start())}"
            )
        if match.group(4) is not None:
            ref = match.group(4)
            if ref.startswith("#x"):
                out.append(chr(int(ref[2:], 16)))
            elif ref.startswith("#"):
                out.append(chr(int(ref[1:])))
            else:
                out.append(_HTML_NAMED.get(ref.lower(), f"&{ref};"))
            continue
        closing, tag, attrs = match.group(1) == "/", match.group(2).lower(), match.group(3) or ""
        here = _u16("".join(out))
        if closing:
            if not stack or stack[-1][0] != tag:
                expected = f', expected "</{stack[-1][0]}>"' if stack else ""
                raise bad(
                    "can't parse entities: Unmatched end tag at byte offset "
                    f'{byte_offset(match.start())}{expected}, found "</{tag}>"'
                )
            _, entity, start = stack.pop()
            if here > start:
                entity.update(offset=start, length=here - start)
                entities.append(entity)
            continue
        kind = _HTML_TAGS.get(tag)
        values = {
            k.lower(): v
            for k, v in re.findall(r'([\w-]+)\s*=\s*"([^"]*)"', attrs)
            + re.findall(r"([\w-]+)\s*=\s*'([^']*)'", attrs)
        }
        if tag == "span" and values.get("class") != "tg-spoiler":
            kind = None
        if kind is None:
            raise bad(
                f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset '
                f"{byte_offset(match.start())}"
            )
        entity: dict[str, Any] = {"type": kind, "_opened": len(stack) + len(entities) * 100}
        if tag == "a":
            entity["url"] = values.get("href", "")
        if tag == "blockquote" and re.search(r"\bexpandable\b", attrs):
            entity["type"] = "expandable_blockquote"
        if tag == "tg-emoji":
            entity["custom_emoji_id"] = values.get("emoji-id", "")
        if tag == "code" and stack and stack[-1][0] == "pre" and "class" in values:
            stack[-1][1]["language"] = values["class"].removeprefix("language-")
        stack.append((tag, entity, here))
    out.append(source[pos:])
    if stack:
        raise bad(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    # Outer entities first when spans tie (a <pre> before the <code> inside it).
    entities.sort(key=lambda e: (e["offset"], -e["length"], e.pop("_opened")))
    return "".join(out), entities


# ---------------------------------------------------------------------------------------------
# Records


@dataclass
class _File:
    file_id: str
    unique_id: str
    content: bytes
    path: str
    kind: str
    name: str | None = None
    mime: str | None = None


@dataclass
class MessageRecord:
    """A message as stored on the server; ``message`` is what Telegram returns for it."""

    chat_id: int
    message: dict[str, Any]
    side: str  # "bot" or "user"
    seq: int
    version: int = 0
    edited: bool = False
    deleted: bool = False
    reply_keyboard: dict[str, Any] | None = None


@dataclass
class CallbackAnswer:
    """An answerCallbackQuery, with when its callback was handed to the bot and answered."""

    query_id: str
    user_id: int | None
    data: str | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    answered_at: float
    handed_at: float | None

    @property
    def latency(self) -> float | None:
        """Seconds from handing the callback update out to the answer arriving."""
        return None if self.handed_at is None else self.answered_at - self.handed_at


@dataclass
class _Query:
    query_id: str
    user_id: int | None
    data: str | None
    created: float
    handed_at: float | None = None
    answered: bool = False


@dataclass
class PreCheckoutAnswer:
    """An answerPreCheckoutQuery, with when its query was handed to the bot and answered."""

    query_id: str
    user_id: int
    ok: bool
    error_message: str | None
    answered_at: float
    handed_at: float | None
    created: float

    @property
    def latency(self) -> float:
        """Seconds from the query reaching the bot (or, if never handed out, from the user
        pressing Pay) to the answer arriving."""
        start = self.handed_at if self.handed_at is not None else self.created
        return self.answered_at - start


@dataclass
class StarCharge:
    """One successful Stars payment as Telegram keeps it (charge id, who paid, how much)."""

    charge_id: str
    user: dict[str, Any]
    chat_id: int
    invoice_message_id: int
    amount: int
    payload: str
    date: int
    payment_message: dict[str, Any]
    """The ``successful_payment`` message exactly as delivered (redeliveries reuse it)."""
    refund_date: int | None = None

    @property
    def refunded(self) -> bool:
        return self.refund_date is not None


@dataclass
class _Invoice:
    chat_id: int
    message_id: int
    payload: str  # kept server-side only: the user's client never shows it
    currency: str
    amount: int
    charge_id: str | None = None  # set once paid; a paid invoice shows "Receipt", not "Pay"


@dataclass
class _Checkout:
    query_id: str
    user: dict[str, Any]
    invoice: _Invoice
    amount: int
    created: float
    deadline: float
    update_id: int
    handed_at: float | None = None
    answer: PreCheckoutAnswer | None = None
    expired: bool = False


@dataclass
class WebhookAttempt:
    update_id: Any
    url: str
    started: float
    finished: float
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _Delivery:
    attempts: int = 0
    failures: int = 0
    retry_at: float = 0.0
    in_flight: bool = False


@dataclass
class _Fault:
    method: str
    count: int
    status: int
    retry_after: int | None
    description: str | None
    disconnect: bool


@dataclass
class _Poller:
    terminated: bool = False


@dataclass
class _Ctx:
    gone: Callable[[], bool]
    uploads: dict[str, Any] = field(default_factory=dict)


class _Disconnect(Exception):
    pass


class _Params:
    """Bot API parameters from JSON (typed) or forms (strings), read the way Telegram does."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def present(self, key: str) -> bool:
        return key in self.raw and self.raw[key] not in (None, "")

    def str(self, key: str, default: str | None = None) -> str | None:
        value = self.raw.get(key)
        if value is None or isinstance(value, UploadedFile):
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def int(self, key: str, default: int | None = None) -> int | None:
        value = self.raw.get(key)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {key} specified") from None

    def float(self, key: str, default: float = 0.0) -> float:
        value = self.raw.get(key)
        if value in (None, ""):
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {key} specified") from None

    def bool(self, key: str) -> bool:
        value = self.raw.get(key)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes", "on")
        return bool(value)

    def json(self, key: str) -> Any:
        value = self.raw.get(key)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad(f"can't parse {key} JSON object") from None
        return value


class _UpdateQueue(list):  # type: ignore[type-arg]
    """The pending updates; tests may append raw dicts directly, which wakes long polls."""

    def __init__(self, notify: Callable[[], None]) -> None:
        super().__init__()
        self._notify = notify

    def append(self, item: Any) -> None:
        super().append(item)
        self._notify()

    def extend(self, items: Any) -> None:
        super().extend(items)
        self._notify()

    def insert(self, index: Any, item: Any) -> None:
        super().insert(index, item)
        self._notify()

    def __iadd__(self, items: Any) -> _UpdateQueue:
        super().extend(items)
        self._notify()
        return self


CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
CONFLICT_HOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
STARS = "XTR"
MAX_STARS_INVOICE = 100_000
DEFAULT_EXCLUDED = {"chat_member", "message_reaction", "message_reaction_count"}
MEDIA_KINDS = ("photo", "video", "animation", "audio", "document", "voice")
_FILE_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
}
_FILE_DIR = {
    "photo": "photos",
    "video": "videos",
    "animation": "animations",
    "audio": "music",
    "document": "documents",
    "voice": "voice",
}
_GATEWAY_TEXT = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}


def nginx_page(status: int) -> bytes:
    """The HTML page a reverse proxy answers when the service behind it is down."""
    title = f"{status} {_GATEWAY_TEXT.get(status, 'Bad Gateway')}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1>"
        "</center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


_STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
}
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
UNKNOWN_FIELD = ("future_field", {"introduced_in": "Bot API 99.0", "flags": [1, 2]})


class FakeBotApiServer:
    """A stateful Bot API on 127.0.0.1 (see the module docstring).

    ``calls`` keeps every request as ``(method, params)`` with the parameters exactly as they
    arrived (strings from forms, typed values from JSON, UploadedFile for file parts).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        bot_user: dict[str, Any] | None = None,
        webhook_backoff: tuple[float, float] = (0.2, 2.0),
        webhook_timeout: float = 10.0,
        long_poll_max: float = 50.0,
        unknown_field: tuple[str, Any] | None = UNKNOWN_FIELD,
    ) -> None:
        self.token = token
        user = dict(bot_user or BOT_USER)
        if token:
            user["id"] = int(token.split(":", 1)[0])
        self.bot_user = user
        self.webhook_backoff = webhook_backoff
        self.webhook_timeout = webhook_timeout
        self.long_poll_max = long_poll_max
        self.unknown_field = unknown_field
        self.max_upload_bytes = 50 * MB
        """Bigger multipart bodies get HTTP 413, as on the hosted Bot API."""
        self.max_download_bytes = 20 * MB
        """getFile refuses bigger files with "file is too big"."""
        self.strict_chats = False
        """If True, sending to a private chat whose user never wrote is a 403, as on Telegram
        (off by default so tests may post raw updates for users the fake never saw)."""
        self.callback_answer_timeout: float | None = None
        """If set, answering a callback later than this many seconds after the press fails."""

        self._cond = threading.Condition(threading.RLock())
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = _UpdateQueue(self._wake)
        self.delays: dict[str, float] = {}
        """Seconds to wait before answering a method (the call is recorded on arrival)."""
        self.allowed_updates: list[str] | None = None
        self.webhook: Webhook | None = None
        self.webhook_attempts: list[WebhookAttempt] = []
        self.webhook_routes: list[tuple[str, str]] = []
        self.answers: list[CallbackAnswer] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.filtered: list[dict[str, Any]] = []
        """Updates not queued because allowed_updates excluded their type."""
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.pre_checkout_answers: list[PreCheckoutAnswer] = []
        self.star_transactions: list[dict[str, Any]] = []
        """What getStarTransactions returns, oldest first (payments and refunds)."""

        self._records: list[MessageRecord] = []
        self._by_key: dict[tuple[int, int], MessageRecord] = {}
        self._next_mid: dict[int, int] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._blocked: set[int] = set()
        self._known: set[int] = set()
        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._queries: dict[str, _Query] = {}
        self._invoices: dict[tuple[int, int], _Invoice] = {}
        self._checkouts: dict[str, _Checkout] = {}
        self._charges: dict[str, StarCharge] = {}
        self._meta: dict[int, _Delivery] = {}
        self._faults: list[_Fault] = []
        self._poller: _Poller | None = None
        self._max_uid = 0
        self._seq = itertools.count(1)
        self._file_seq = itertools.count(1)
        self._stopping = threading.Event()
        self._methods = self._method_table()
        self._http = LoopbackHttpServer(self._handler())
        self.base = f"http://127.0.0.1:{self._http.port}"
        self._delivery_thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> FakeBotApiServer:
        self._http.start()
        self._delivery_thread = threading.Thread(
            target=self._webhook_loop, daemon=True, name="fake-bot-api-webhook"
        )
        self._delivery_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        self._http.stop()
        if self._delivery_thread is not None:
            self._delivery_thread.join(5)

    @contextmanager
    def running(self) -> Iterator[FakeBotApiServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    # ------------------------------------------------------------------------ test-side API

    def methods(self) -> list[str]:
        with self._cond:
            return [name for name, _ in self.calls]

    def called(self, method: str) -> list[dict[str, Any]]:
        with self._cond:
            return [params for name, params in self.calls if name == method]

    def user(
        self,
        user_id: int,
        first_name: str = "Ann",
        lang: str | None = "en",
        *,
        username: str | None = None,
        last_name: str | None = None,
        is_premium: bool | None = None,
    ) -> TgUser:
        from tests.fakes.tg_user import TgUser

        info: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        for key, value in (
            ("last_name", last_name),
            ("username", username),
            ("language_code", lang),
            ("is_premium", is_premium),
        ):
            if value is not None:
                info[key] = value
        with self._cond:
            self._users[user_id] = info
        return TgUser(self, info)

    def push_update(self, update: dict[str, Any], *, assign_id: bool = True) -> dict[str, Any]:
        """Queue a raw update as given (malformed ones too); allowed_updates is not applied.

        Without an ``update_id`` one is assigned, unless ``assign_id=False`` (an update that
        only a later offset can confirm).
        """
        with self._cond:
            if assign_id and "update_id" not in update:
                update["update_id"] = self._new_update_id()
            self.updates.append(update)
        return update

    def fail(
        self,
        method: str,
        count: int = 1,
        status: int = 500,
        retry_after: int | None = None,
        *,
        description: str | None = None,
        disconnect: bool = False,
    ) -> None:
        """The next ``count`` calls of ``method`` ("*" = any) fail like Telegram's do.

        429 carries ``parameters.retry_after`` (default 1); 502/504 answer nginx's HTML page,
        not JSON; ``disconnect`` closes the connection without any answer.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._cond:
            self._faults.append(
                _Fault(method, count, status, retry_after, description, disconnect)
            )

    def route_webhook(self, public_prefix: str, local_base: str) -> None:
        """Deliver webhooks set for ``public_prefix…`` to ``local_base…`` instead.

        Without a route only loopback webhook URLs are contacted; any other host fails the
        way an unresolvable one does, and the updates stay pending.
        """
        with self._cond:
            self.webhook_routes.append((public_prefix.rstrip("/"), local_base.rstrip("/")))
            for meta in self._meta.values():
                meta.retry_at = 0.0
            self._cond.notify_all()

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[BotMessage]:
        """The bot's messages in a chat, oldest first, each in its latest state."""
        from tests.fakes.tg_user import BotMessage

        with self._cond:
            return [
                BotMessage.of(rec, self._content_of(rec.message))
                for rec in self._records
                if rec.chat_id == chat_id
                and rec.side == "bot"
                and (include_deleted or not rec.deleted)
            ]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        with self._cond:
            rec = self._by_key.get((chat_id, message_id))
            return copy.deepcopy(rec.message) if rec else None

    def file_bytes(self, file_id: str) -> bytes:
        with self._cond:
            return self._files[file_id].content

    def put_file(self, content: bytes, kind: str = "document", name: str | None = None) -> str:
        """A Telegram-hosted file (getFile + download work for its id)."""
        with self._cond:
            return self._store_file(content, kind, name, None).file_id

    def pending_updates(self) -> list[dict[str, Any]]:
        with self._cond:
            return copy.deepcopy(list(self.updates))

    def webhook_info(self) -> dict[str, Any]:
        with self._cond:
            return self._webhook_info()

    def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[BotMessage], bool] | None = None,
        timeout: float = 10.0,
        *,
        after: int | None = None,
    ) -> BotMessage:
        """The newest bot message in the chat matching ``predicate`` (id > ``after``)."""
        found: list[BotMessage] = []

        def check() -> bool:
            for msg in reversed(self.messages(chat_id)):
                if after is not None and msg.message_id <= after:
                    continue
                if predicate is None or predicate(msg):
                    found.append(msg)
                    return True
            return False

        wait_for(check, timeout, f"a bot message in chat {chat_id}")
        return found[-1]

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def check() -> bool:
            for params in self.called(method):
                if predicate is None or predicate(params):
                    found.append(params)
                    return True
            return False

        wait_for(check, timeout, f"a {method} call")
        return found[0]

    def wait_for_answer(self, query_id: str, timeout: float = 10.0) -> CallbackAnswer:
        found: list[CallbackAnswer] = []

        def check() -> bool:
            with self._cond:
                found.extend(a for a in self.answers if a.query_id == query_id)
            return bool(found)

        wait_for(check, timeout, f"answerCallbackQuery for {query_id}")
        return found[0]

    def charges(self) -> list[StarCharge]:
        """Every successful Stars payment so far, oldest first (refunds marked on them)."""
        with self._cond:
            return [copy.deepcopy(c) for c in self._charges.values()]

    def invoice_payload(self, chat_id: int, message_id: int) -> str | None:
        """The payload sendInvoice was given for that message (the user never sees it)."""
        with self._cond:
            invoice = self._invoices.get((chat_id, message_id))
            return invoice.payload if invoice else None

    def wait_for_pre_checkout_answer(
        self, query_id: str, timeout: float = 10.0
    ) -> PreCheckoutAnswer:
        with self._cond:
            checkout = self._checkouts.get(query_id)
            if checkout is None:
                raise LookupError(f"no pre-checkout query {query_id}")
            if not self._cond.wait_for(lambda: checkout.answer is not None, timeout):
                raise AssertionError(f"no answerPreCheckoutQuery for {query_id} in {timeout}s")
            assert checkout.answer is not None
            return checkout.answer

    # ---------------------------------------------------------------- driver hooks (tg_user)

    def _user_message(self, user: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            chat_id = int(user["id"])
            self._block(user, False)  # writing to a blocked bot unblocks it
            self._known.add(chat_id)
            msg = {
                "message_id": self._new_message_id(chat_id),
                "from": copy.deepcopy(user),
                "chat": self._chat_for(chat_id, check_blocked=False),
                "date": int(time.time()),
                **fields,
            }
            self._add_unknown(msg)
            self._store(chat_id, msg, "user")
            return self._enqueue("message", copy.deepcopy(msg))

    def _user_file(self, content: bytes, kind: str, name: str | None, mime: str | None) -> Any:
        with self._cond:
            if kind == "photo":
                return self._photo_sizes(self._store_file(content, "photo", None, "image/jpeg"))
            stored = self._store_file(content, kind, name, mime)
            return self._media_object(kind, stored, _Params({}))

    def _press(
        self, user: dict[str, Any], target: str, message_id: int | None, forged: bool
    ) -> dict[str, Any]:
        with self._cond:
            chat_id = int(user["id"])
            if message_id is not None:
                rec = self._by_key.get((chat_id, message_id))
                if rec is None or rec.deleted:
                    raise LookupError(f"no message {message_id} in chat {chat_id}")
                data = target if forged else self._button_data(rec, target)
                if data is None:
                    raise LookupError(f"message {message_id} has no button {target!r}")
            else:
                rec, data = self._find_button(chat_id, target)
            query_id = str(secrets.randbelow(9 * 10**18) + 10**18)
            self._queries[query_id] = _Query(query_id, chat_id, data, time.monotonic())
            query = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(rec.message),
                "chat_instance": str(
                    -(7_000_000_000_000_000_000 + chat_id * 31 + self.bot_user["id"])
                ),
                "data": data,
            }
            return self._enqueue("callback_query", query)

    def _user_service_message(
        self, user: dict[str, Any], fields: dict[str, Any]
    ) -> dict[str, Any]:
        """A message "from" the user that Telegram itself writes (payments, refunds)."""
        chat_id = int(user["id"])
        self._known.add(chat_id)
        msg = {
            "message_id": self._new_message_id(chat_id),
            "from": copy.deepcopy(user),
            "chat": self._chat_for(chat_id, check_blocked=False),
            "date": int(time.time()),
            **fields,
        }
        self._add_unknown(msg)
        self._store(chat_id, msg, "user")
        return msg

    def _payable_invoice(self, chat_id: int, message_id: int | None) -> _Invoice:
        if message_id is not None:
            rec = self._by_key.get((chat_id, message_id))
            if rec is None or rec.deleted or rec.side != "bot":
                raise LookupError(f"no message {message_id} in chat {chat_id}")
            invoice = self._invoices.get((chat_id, message_id))
            if invoice is None:
                raise LookupError(f"message {message_id} in chat {chat_id} is not an invoice")
        else:
            found = next(
                (
                    self._invoices[(chat_id, r.message["message_id"])]
                    for r in reversed(self._records)
                    if r.chat_id == chat_id
                    and r.side == "bot"
                    and not r.deleted
                    and (chat_id, r.message["message_id"]) in self._invoices
                ),
                None,
            )
            if found is None:
                raise LookupError(f"no invoice in chat {chat_id}")
            invoice = found
        if invoice.charge_id is not None:
            # Telegram swaps the Pay button for "Receipt" once an invoice message is paid.
            raise LookupError(f"invoice {invoice.message_id} in chat {chat_id} is already paid")
        return invoice

    def _start_checkout(
        self, user: dict[str, Any], message_id: int | None, stars: int | None, timeout: float
    ) -> _Checkout:
        with self._cond:
            invoice = self._payable_invoice(int(user["id"]), message_id)
            amount = invoice.amount if stars is None else int(stars)
            query_id = str(secrets.randbelow(9 * 10**18) + 10**18)
            now = time.monotonic()
            checkout = _Checkout(
                query_id, copy.deepcopy(user), invoice, amount, now, now + timeout, 0
            )
            # Registered before queuing, so a bot that answers at once always finds it.
            self._checkouts[query_id] = checkout
            update = self._enqueue(
                "pre_checkout_query",
                {
                    "id": query_id,
                    "from": copy.deepcopy(user),
                    "currency": invoice.currency,
                    "total_amount": amount,
                    "invoice_payload": invoice.payload,
                },
            )
            checkout.update_id = update["update_id"]
            return checkout

    def _await_checkout(self, checkout: _Checkout) -> PreCheckoutAnswer | None:
        """The bot's answer, or None once the user's client gave up (the query expires)."""
        with self._cond:
            self._cond.wait_for(
                lambda: checkout.answer is not None or self._stopping.is_set(),
                max(0.0, checkout.deadline - time.monotonic()),
            )
            if checkout.answer is None:
                checkout.expired = True
            return checkout.answer

    def _complete_payment(self, checkout: _Checkout) -> tuple[StarCharge, dict[str, Any]]:
        with self._cond:
            invoice = checkout.invoice
            if invoice.charge_id is not None:
                raise LookupError(f"invoice {invoice.message_id} was paid meanwhile")
            charge_id = "stx" + secrets.token_urlsafe(60)[:80]
            payment = {
                "currency": invoice.currency,
                "total_amount": checkout.amount,
                "invoice_payload": invoice.payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            }
            user = checkout.user
            msg = self._user_service_message(user, {"successful_payment": payment})
            charge = StarCharge(
                charge_id=charge_id,
                user=copy.deepcopy(user),
                chat_id=invoice.chat_id,
                invoice_message_id=invoice.message_id,
                amount=checkout.amount,
                payload=invoice.payload,
                date=msg["date"],
                payment_message=copy.deepcopy(msg),
            )
            invoice.charge_id = charge_id
            self._charges[charge_id] = charge
            self.star_transactions.append(
                {
                    "id": charge_id,
                    "amount": charge.amount,
                    "date": charge.date,
                    "source": self._star_partner(charge),
                }
            )
            update = self._enqueue("message", copy.deepcopy(msg))
            return copy.deepcopy(charge), update

    def _redeliver_payment(self, charge_id: str) -> dict[str, Any]:
        with self._cond:
            charge = self._charges.get(charge_id)
            if charge is None:
                raise LookupError(f"no payment with charge id {charge_id}")
            return self._enqueue("message", copy.deepcopy(charge.payment_message))

    @staticmethod
    def _star_partner(charge: StarCharge) -> dict[str, Any]:
        return {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": copy.deepcopy(charge.user),
            "invoice_payload": charge.payload,
        }

    def _block(self, user: dict[str, Any], blocked: bool) -> None:
        with self._cond:
            chat_id = int(user["id"])
            was = chat_id in self._blocked
            if blocked:
                self._blocked.add(chat_id)
            else:
                self._blocked.discard(chat_id)
            if was != blocked:
                member = {"user": copy.deepcopy(self.bot_user), "status": "member"}
                kicked = {
                    "user": copy.deepcopy(self.bot_user),
                    "status": "kicked",
                    "until_date": 0,
                }
                self._enqueue(
                    "my_chat_member",
                    {
                        "chat": self._chat_for(chat_id, check_blocked=False),
                        "from": copy.deepcopy(user),
                        "date": int(time.time()),
                        "old_chat_member": member if blocked else kicked,
                        "new_chat_member": kicked if blocked else member,
                    },
                )

    def _answers_for(self, user_id: int) -> list[CallbackAnswer]:
        with self._cond:
            return [a for a in self.answers if a.user_id == user_id]

    def _find_button(self, chat_id: int, target: str) -> tuple[MessageRecord, str]:
        candidates = [
            r
            for r in reversed(self._records)
            if r.chat_id == chat_id and r.side == "bot" and not r.deleted
        ]
        for matcher in (
            lambda b: b.get("callback_data") == target,
            lambda b: b.get("text") == target and "callback_data" in b,
            lambda b: target in str(b.get("text")) and "callback_data" in b,
        ):
            for rec in candidates:
                for row in (rec.message.get("reply_markup") or {}).get("inline_keyboard", []):
                    for button in row:
                        if matcher(button):
                            return rec, button["callback_data"]
        shown = [
            [
                b.get("text")
                for row in (r.message.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
            ]
            for r in candidates[:5]
        ]
        raise LookupError(f"no button {target!r} in chat {chat_id}; newest keyboards: {shown}")

    @staticmethod
    def _button_data(rec: MessageRecord, target: str) -> str | None:
        for row in (rec.message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if target in (button.get("callback_data"), button.get("text")):
                    return button.get("callback_data")
        return None

    # --------------------------------------------------------------------------- internals

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _new_update_id(self) -> int:
        top = max(
            [self._max_uid]
            + [u["update_id"] for u in self.updates if isinstance(u.get("update_id"), int)]
        )
        uid = max(next_update_id(), top + 1)
        self._max_uid = uid
        return uid

    def _allowed(self, kind: str) -> bool:
        if not self.allowed_updates:
            return kind not in DEFAULT_EXCLUDED
        return kind in self.allowed_updates

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._new_update_id(), kind: payload}
        if self._allowed(kind):
            self.updates.append(update)
        else:
            self.filtered.append(update)
        return update

    def _new_message_id(self, chat_id: int) -> int:
        mid = self._next_mid.get(chat_id, 1)
        self._next_mid[chat_id] = mid + 1
        return mid

    def _chat_for(self, chat_id: int, check_blocked: bool = True) -> dict[str, Any]:
        if check_blocked and chat_id in self._blocked:
            raise TelegramError(403, "Forbidden: bot was blocked by the user")
        if check_blocked and self.strict_chats and chat_id > 0 and chat_id not in self._known:
            raise TelegramError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat_id < 0:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}
        user = self._users.get(chat_id) or {"first_name": f"User{chat_id}"}
        chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        return chat

    def _add_unknown(self, msg: dict[str, Any]) -> None:
        if self.unknown_field is not None:
            msg[self.unknown_field[0]] = copy.deepcopy(self.unknown_field[1])

    def _store(self, chat_id: int, msg: dict[str, Any], side: str) -> MessageRecord:
        rec = MessageRecord(chat_id, msg, side, next(self._seq))
        self._records.append(rec)
        self._by_key[(chat_id, msg["message_id"])] = rec
        return rec

    def _store_file(self, content: bytes, kind: str, name: str | None, mime: str | None) -> _File:
        n = next(self._file_seq)
        file_id = _FILE_PREFIX.get(kind, "BQACAgIAAxkBAAI") + secrets.token_urlsafe(36)[:48]
        ext = {"photo": ".jpg", "voice": ".oga"}.get(kind)
        if ext is None:
            ext = "." + name.rsplit(".", 1)[-1] if name and "." in name else ""
        stored = _File(
            file_id=file_id,
            unique_id="AQAD" + secrets.token_urlsafe(9)[:12],
            content=content,
            path=f"{_FILE_DIR.get(kind, 'documents')}/file_{n}{ext}",
            kind=kind,
            name=name,
            mime=mime,
        )
        self._files[file_id] = stored
        self._files_by_path[stored.path] = stored
        return stored

    def _photo_sizes(self, stored: _File) -> list[dict[str, Any]]:
        width, height = image_size(stored.content) or (1280, 960)
        sizes: list[dict[str, Any]] = []
        for side in (90, 320, 800):
            if max(width, height) > side:
                scale = side / max(width, height)
                small = self._store_file(stored.content, "photo", None, stored.mime)
                sizes.append(
                    {
                        "file_id": small.file_id,
                        "file_unique_id": small.unique_id,
                        "file_size": max(1, int(len(stored.content) * scale * scale)),
                        "width": max(1, round(width * scale)),
                        "height": max(1, round(height * scale)),
                    }
                )
        sizes.append(
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.unique_id,
                "file_size": len(stored.content),
                "width": width,
                "height": height,
            }
        )
        return sizes

    def _media_object(self, kind: str, stored: _File, p: _Params) -> Any:
        if kind == "photo":
            return self._photo_sizes(stored)
        base: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.content),
        }
        name = stored.name
        mime = stored.mime
        if kind in ("document", "video", "audio", "animation") and name:
            base["file_name"] = name
        if kind == "voice":
            mime = "audio/ogg"
        elif not mime or mime == "application/octet-stream":
            guessed = mimetypes.guess_type(name or "")[0]
            mime = guessed or {
                "video": "video/mp4",
                "audio": "audio/mpeg",
                "animation": "video/mp4",
            }.get(kind, "application/octet-stream")
        base["mime_type"] = mime
        if kind in ("video", "animation"):
            size = image_size(stored.content)
            base.update(
                width=p.int("width") or (size[0] if size else 1280),
                height=p.int("height") or (size[1] if size else 720),
                duration=p.int("duration") or 1,
            )
        if kind in ("audio", "voice"):
            base["duration"] = p.int("duration") or 1
        if kind == "audio":
            for key in ("title", "performer"):
                if p.present(key):
                    base[key] = p.str(key)
        return base

    def _resolve_media(
        self, kind: str, ref: Any, ctx: _Ctx, name_hint: str | None = None
    ) -> _File:
        if isinstance(ref, UploadedFile):
            return self._upload(kind, ref)
        value = str(ref or "")
        if value.startswith("attach://"):
            part = ctx.uploads.get(value[9:])
            if not isinstance(part, UploadedFile):
                raise bad(f'can\'t find attached file "{value[9:]}"')
            return self._upload(kind, part)
        if value in self._files:
            stored = self._files[value]
            if stored.kind != kind and {stored.kind, kind} != {"video", "animation"}:
                raise bad(
                    f"can't use file of type {stored.kind.capitalize()} as {kind.capitalize()}"
                )
            return stored
        if re.match(r"^https?://", value):
            # Telegram would fetch it; here a placeholder stands in for the remote bytes.
            name = value.rsplit("/", 1)[-1].split("?", 1)[0] or name_hint
            return self._store_file(f"fetched from {value}".encode(), kind, name, None)
        raise bad("wrong remote file identifier specified: Wrong string length")

    def _upload(self, kind: str, part: UploadedFile) -> _File:
        mime = part.content_type
        if mime in ("", "application/octet-stream"):
            mime = mimetypes.guess_type(part.filename)[0] or "application/octet-stream"
        if kind == "photo":
            mime = "image/jpeg"  # Telegram re-encodes photos
        return self._store_file(part.content, kind, part.filename, mime)

    def _content_of(self, msg: dict[str, Any]) -> bytes | None:
        for kind in MEDIA_KINDS:
            media = msg.get(kind)
            if isinstance(media, list) and media:
                media = media[-1]
            if isinstance(media, dict) and media.get("file_id") in self._files:
                return self._files[media["file_id"]].content
        return None

    def _webhook_info(self) -> dict[str, Any]:
        hook = self.webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if hook:
            info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
            info["max_connections"] = hook.max_connections
        if self.allowed_updates:
            info["allowed_updates"] = list(self.allowed_updates)
        return info

    def _mark_handed(self, updates: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        for update in updates:
            key = _chat_key(update)
            if key[0] in ("chat", "user") and isinstance(key[1], int):
                self._known.add(key[1])
            checkout_query = update.get("pre_checkout_query") if isinstance(update, dict) else None
            if isinstance(checkout_query, dict):
                checkout = self._checkouts.get(str(checkout_query.get("id")))
                if checkout is not None and checkout.handed_at is None:
                    checkout.handed_at = now
            query = update.get("callback_query") if isinstance(update, dict) else None
            if not isinstance(query, dict) or not isinstance(query.get("id"), str):
                continue
            known = self._queries.get(query["id"])
            if known is None:
                sender = query.get("from") if isinstance(query.get("from"), dict) else {}
                known = _Query(query["id"], sender.get("id"), query.get("data"), now)
                self._queries[query["id"]] = known
            if known.handed_at is None:
                known.handed_at = now

    def _confirm(self, offset: int) -> None:
        if not offset:
            return
        queue = list(self.updates)
        if offset < 0:
            keep = queue[len(queue) + offset :] if -offset < len(queue) else queue
        else:
            last = -1
            for i, update in enumerate(queue):
                uid = update.get("update_id") if isinstance(update, dict) else None
                if isinstance(uid, int) and not isinstance(uid, bool) and uid < offset:
                    last = i
            keep = [
                u
                for i, u in enumerate(queue)
                if i > last
                and not (isinstance(u.get("update_id"), int) and u["update_id"] < offset)
            ]
        kept = {id(u) for u in keep}
        for update in queue:
            if id(update) not in kept:
                self._meta.pop(id(update), None)
        list.__init__(self.updates, keep)

    # ----------------------------------------------------------------------------- serving

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return handler_serving(self._serve)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        file_match = re.match(r"^/file/bot([^/]+)/(.+)$", parts.path)
        if file_match:
            self._serve_file(handler, file_match.group(1), file_match.group(2))
            return
        match = re.match(r"^/bot([^/]*)/([A-Za-z]+)$", parts.path)
        if not match:
            self._reply(handler, TelegramError(404, "Not Found").body(), 404)
            return
        token, method = match.group(1), match.group(2)
        try:
            raw = read_body(handler, self.max_upload_bytes)
        except BodyTooLarge:
            handler.close_connection = True
            self._reply(handler, TelegramError(413, "Request Entity Too Large").body(), 413)
            return
        try:
            params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
            params.update(parse_body(raw, handler.headers.get("Content-Type", "")))
        except ValueError:
            self._reply(handler, bad("can't parse request JSON object").body(), 400)
            return
        connection = handler.connection
        try:
            status, body = self._call(
                token, method, params, _Ctx(lambda: _client_gone(connection))
            )
        except _Disconnect:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(body, bytes):
            with contextlib.suppress(OSError):
                send_bytes(handler, status, body, "text/html")
            return
        self._reply(handler, body, status)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, body: dict[str, Any], status: int) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        with contextlib.suppress(OSError):
            send_bytes(handler, status, data, "application/json")

    def _serve_file(self, handler: BaseHTTPRequestHandler, token: str, path: str) -> None:
        if not self._token_ok(token):
            self._reply(handler, TelegramError(401, "Unauthorized").body(), 401)
            return
        with self._cond:
            stored = self._files_by_path.get(path)
        if stored is None:
            self._reply(handler, TelegramError(404, "Not Found").body(), 404)
            return
        with contextlib.suppress(OSError):
            send_bytes(handler, 200, stored.content, "application/octet-stream")

    def _token_ok(self, token: str) -> bool:
        if self.token is not None:
            return token == self.token
        return bool(_TOKEN.match(token))

    def _call(
        self, token: str, method: str, params: dict[str, Any], ctx: _Ctx
    ) -> tuple[int, dict[str, Any] | bytes]:
        canonical = self._methods.get(method.lower())
        name = canonical[0] if canonical else method
        with self._cond:
            self.calls.append((name, params))
            self._cond.notify_all()
        if not self._token_ok(token):
            return 401, TelegramError(401, "Unauthorized").body()
        if canonical is None:
            return 404, TelegramError(404, "Not Found").body()
        delay = self.delays.get(name, 0.0)
        if delay > 0:
            self._stopping.wait(delay)
        fault = self._take_fault(name)
        if fault is not None:
            if fault.disconnect:
                raise _Disconnect
            if fault.status in (502, 504) and fault.description is None:
                return fault.status, nginx_page(fault.status)
            description = fault.description or _STATUS_TEXT.get(
                fault.status, "Internal Server Error"
            )
            parameters = None
            if fault.status == 429:
                description = (
                    fault.description or f"Too Many Requests: retry after {fault.retry_after}"
                )
                parameters = {"retry_after": fault.retry_after}
            return fault.status, TelegramError(fault.status, description, parameters).body()
        p = _Params(params)
        ctx.uploads = {k: v for k, v in params.items() if isinstance(v, UploadedFile)}
        try:
            with self._cond:
                outcome = canonical[1](p, ctx)
        except TelegramError as exc:
            return exc.code, exc.body()
        if isinstance(outcome, _Described):
            return 200, {"ok": True, "result": outcome.result, "description": outcome.description}
        return 200, {"ok": True, "result": outcome}

    def _take_fault(self, method: str) -> _Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.count > 0 and fault.method in (method, "*"):
                    fault.count -= 1
                    return fault
        return None

    def _method_table(self) -> dict[str, tuple[str, Callable[[_Params, _Ctx], Any]]]:
        table: dict[str, tuple[str, Callable[[_Params, _Ctx], Any]]] = {}
        for attr in dir(self):
            if attr.startswith("_m_"):
                name = attr[3:]
                table[name.lower()] = (name, getattr(self, attr))
        for name in _TRUE_METHODS:
            table[name.lower()] = (name, lambda p, ctx: True)
        return table

    # ------------------------------------------------------------------------ Bot API: misc

    def _m_getMe(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_sendChatAction(self, p: _Params, ctx: _Ctx) -> bool:
        chat_id = self._chat_id(p)
        action = p.str("action") or ""
        if action not in _CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        self._chat_for(chat_id)
        self.chat_actions.append((chat_id, action))
        return True

    def _m_getFile(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        stored = self._files.get(p.str("file_id") or "")
        if stored is None:
            raise bad("invalid file_id")
        if len(stored.content) > self.max_download_bytes:
            raise bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.content),
            "file_path": stored.path,
        }

    def _m_getChat(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        chat = self._chat_for(self._chat_id(p), check_blocked=False)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
            },
        }

    def _m_getChatMember(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        chat_id = self._chat_id(p)
        user_id = p.int("user_id")
        if user_id == self.bot_user["id"]:
            status = "kicked" if chat_id in self._blocked else "member"
            return {
                "user": copy.deepcopy(self.bot_user),
                "status": status,
                **({"until_date": 0} if status == "kicked" else {}),
            }
        user = self._users.get(user_id or 0)
        if user is None:
            raise bad("user not found")
        return {"user": copy.deepcopy(user), "status": "member"}

    def _m_setMyCommands(self, p: _Params, ctx: _Ctx) -> bool:
        commands = p.json("commands")
        if not isinstance(commands, list):
            raise bad("can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(name).lstrip("/")):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad("command description must be non-empty")
        self.commands[self._scope_key(p)] = commands
        return True

    def _m_getMyCommands(self, p: _Params, ctx: _Ctx) -> list[dict[str, Any]]:
        return copy.deepcopy(self.commands.get(self._scope_key(p), []))

    def _m_deleteMyCommands(self, p: _Params, ctx: _Ctx) -> bool:
        self.commands.pop(self._scope_key(p), None)
        return True

    def _scope_key(self, p: _Params) -> tuple[str, str]:
        scope = p.json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), p.str("language_code") or ""

    def _bot_text(self, kind: str, p: _Params, set_it: bool) -> Any:
        key = (kind, p.str("language_code") or "")
        if set_it:
            self.bot_texts[key] = p.str(kind) or ""
            return True
        return {
            kind: self.bot_texts.get(key, self.bot_user["first_name"] if kind == "name" else "")
        }

    def _m_setMyDescription(self, p: _Params, ctx: _Ctx) -> Any:
        return self._bot_text("description", p, True)

    def _m_getMyDescription(self, p: _Params, ctx: _Ctx) -> Any:
        return self._bot_text("description", p, False)

    def _m_setMyShortDescription(self, p: _Params, ctx: _Ctx) -> Any:
        return self._bot_text("short_description", p, True)

    def _m_getMyShortDescription(self, p: _Params, ctx: _Ctx) -> Any:
        return self._bot_text("short_description", p, False)

    def _m_setMyName(self, p: _Params, ctx: _Ctx) -> Any:
        return self._bot_text("name", p, True)

    def _m_getMyName(self, p: _Params, ctx: _Ctx) -> Any:
        return self._bot_text("name", p, False)

    def _m_setChatMenuButton(self, p: _Params, ctx: _Ctx) -> bool:
        self.menu_buttons[p.int("chat_id")] = p.json("menu_button") or {"type": "default"}
        return True

    def _m_getChatMenuButton(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        return copy.deepcopy(self.menu_buttons.get(p.int("chat_id"), {"type": "commands"}))

    # --------------------------------------------------------------------- Bot API: updates

    def _m_getUpdates(self, p: _Params, ctx: _Ctx) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise TelegramError(409, CONFLICT_HOOK)
        offset = p.int("offset", 0) or 0
        limit = min(100, max(1, p.int("limit", 100) or 100))
        timeout = min(self.long_poll_max, max(0.0, p.float("timeout", 0.0)))
        allowed = p.json("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = [str(a) for a in allowed] or None
        self._confirm(offset)
        if self._poller is not None:
            self._poller.terminated = True
            self._cond.notify_all()
        me = _Poller()
        self._poller = me
        deadline = time.monotonic() + timeout
        try:
            while True:
                if me.terminated:
                    raise TelegramError(409, CONFLICT_POLL)
                if self.webhook is not None:
                    raise TelegramError(409, CONFLICT_HOOK)
                batch = list(self.updates)[:limit]
                left = deadline - time.monotonic()
                if batch or left <= 0 or self._stopping.is_set() or ctx.gone():
                    break
                self._cond.wait(min(left, 0.25))
        finally:
            if self._poller is me:
                self._poller = None
        self._mark_handed(batch)
        return copy.deepcopy(batch)

    def _m_setWebhook(self, p: _Params, ctx: _Ctx) -> _Described:
        url = p.str("url") or ""
        if not url:
            return self._m_deleteWebhook(p, ctx)
        parts = urlsplit(url)
        loopback = is_loopback(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        if parts.scheme == "http" and not loopback:
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        if not loopback and parts.port not in (None, 80, 88, 443, 8443):
            raise bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = p.str("secret_token") or None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad("secret token contains unallowed characters")
        max_connections = min(100, max(1, p.int("max_connections", 40) or 40))
        allowed = p.json("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise bad("can't parse allowed_updates JSON array")
            self.allowed_updates = [str(a) for a in allowed] or None
        if p.bool("drop_pending_updates"):
            self._drop_pending()
        old = self.webhook
        same = (
            old is not None
            and old.url == url
            and old.secret_token == secret
            and old.max_connections == max_connections
        )
        self.webhook = Webhook(
            url,
            secret,
            max_connections,
            p.str("ip_address") or "149.154.167.220",
            old.last_error_date if old else None,
            old.last_error_message if old else None,
        )
        for meta in self._meta.values():
            meta.retry_at = 0.0  # (re)setting the webhook retries pending updates at once
        self._cond.notify_all()
        return _Described(True, "Webhook is already set" if same else "Webhook was set")

    def _m_deleteWebhook(self, p: _Params, ctx: _Ctx) -> _Described:
        if p.bool("drop_pending_updates"):
            self._drop_pending()
        had = self.webhook is not None
        self.webhook = None
        self._cond.notify_all()
        return _Described(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _m_getWebhookInfo(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        return self._webhook_info()

    def _drop_pending(self) -> None:
        keep = [u for u in self.updates if self._meta.get(id(u), _Delivery()).in_flight]
        list.__init__(self.updates, keep)

    # -------------------------------------------------------------------- Bot API: messages

    def _chat_id(self, p: _Params) -> int:
        raw = p.raw.get("chat_id")
        if raw in (None, ""):
            raise bad("chat_id is empty")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise bad("chat not found") from None

    def _markup(self, p: _Params) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(inline keyboard as Message.reply_markup shows it, any other keyboard)."""
        markup = p.json("reply_markup")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None, markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list):
            raise bad(
                'can\'t parse inline keyboard button: field "inline_keyboard" must be an Array'
            )
        for row in rows:
            if not isinstance(row, list):
                raise bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not _BUTTON_KINDS & set(button):
                    raise bad(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                if "callback_data" in button:
                    data = str(button["callback_data"])
                    if not data or len(data.encode()) > 64:
                        raise bad("BUTTON_DATA_INVALID")
                if "url" in button and not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
                    raise bad("BUTTON_URL_INVALID")
        return {"inline_keyboard": rows} if rows else None, None

    def _format(
        self, p: _Params, key: str, mode_key: str, entities_key: str, *, required: bool, limit: int
    ) -> tuple[str | None, list[dict[str, Any]] | None]:
        raw = p.str(key)
        if raw is None or raw == "":
            if required:
                raise bad("message text is empty")
            return None, None
        mode = (p.str(mode_key) or "").strip()
        explicit = p.json(entities_key)
        if mode.lower() == "html":
            text, entities = parse_html(raw)
            entities = entities + detect_entities(text, entities)
            entities.sort(key=lambda e: (e["offset"], -e["length"]))
        elif mode:
            if mode.lower() in ("markdown", "markdownv2"):
                raise bad(f"can't parse entities: parse_mode {mode} is not emulated by the fake")
            raise bad("unsupported parse_mode")
        elif isinstance(explicit, list):
            text, entities = raw, explicit
        else:
            text, entities = raw, detect_entities(raw)
        if required and not text.strip():
            raise bad("message text is empty")
        if _u16(text) > limit:
            raise bad("message caption is too long" if key == "caption" else "message is too long")
        return text, entities or None

    def _reply_to(self, chat_id: int, p: _Params, fields: dict[str, Any]) -> None:
        params = p.json("reply_parameters") or (
            {"message_id": p.int("reply_to_message_id")}
            if p.present("reply_to_message_id")
            else None
        )
        if not params or not params.get("message_id"):
            return
        rec = self._by_key.get((int(params.get("chat_id") or chat_id), int(params["message_id"])))
        if rec is None or rec.deleted:
            if params.get("allow_sending_without_reply") or p.bool("allow_sending_without_reply"):
                return
            raise bad("message to be replied not found")
        inner = copy.deepcopy(rec.message)
        inner.pop("reply_to_message", None)
        fields["reply_to_message"] = inner

    def _send(
        self,
        chat_id: int,
        p: _Params,
        fields: dict[str, Any],
        inline: dict[str, Any] | None,
        other: dict[str, Any] | None,
    ) -> dict[str, Any]:
        chat = self._chat_for(chat_id)
        self._reply_to(chat_id, p, fields)
        if p.bool("protect_content"):
            fields["has_protected_content"] = True
        msg: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": copy.deepcopy(self.bot_user),
            "chat": chat,
            "date": int(time.time()),
        }
        msg.update({k: v for k, v in fields.items() if v is not None})
        if inline:
            msg["reply_markup"] = inline
        self._add_unknown(msg)
        rec = self._store(chat_id, msg, "bot")
        rec.reply_keyboard = other
        return copy.deepcopy(msg)

    def _m_sendMessage(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        chat_id = self._chat_id(p)
        inline, other = self._markup(p)
        text, entities = self._format(
            p, "text", "parse_mode", "entities", required=True, limit=4096
        )
        fields: dict[str, Any] = {"text": text, "entities": entities}
        preview = p.json("link_preview_options")
        if preview is None and p.present("disable_web_page_preview"):
            preview = {"is_disabled": p.bool("disable_web_page_preview")}
        fields["link_preview_options"] = self._preview(text or "", preview)
        return self._send(chat_id, p, fields, inline, other)

    @staticmethod
    def _preview(text: str, asked: Any) -> dict[str, Any] | None:
        if isinstance(asked, dict) and asked:
            return {k: v for k, v in asked.items() if v is not None and v is not False} or None
        url = first_url(text)
        return {"url": url} if url else None

    def _send_media(self, kind: str, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        chat_id = self._chat_id(p)
        ref = p.raw.get(kind)
        if ref in (None, ""):
            raise bad(f"there is no {kind} in the request")
        inline, other = self._markup(p)
        caption, entities = self._format(
            p, "caption", "parse_mode", "caption_entities", required=False, limit=1024
        )
        self._chat_for(chat_id)
        stored = self._resolve_media(kind, ref, ctx)
        fields: dict[str, Any] = {
            kind: self._media_object(kind, stored, p),
            "caption": caption,
            "caption_entities": entities,
        }
        if kind == "animation":
            fields["document"] = copy.deepcopy(fields[kind])
        if p.bool("has_spoiler"):
            fields["has_media_spoiler"] = True
        if p.bool("show_caption_above_media"):
            fields["show_caption_above_media"] = True
        return self._send(chat_id, p, fields, inline, other)

    def _m_sendPhoto(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        return self._send_media("photo", p, ctx)

    def _m_sendVideo(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        return self._send_media("video", p, ctx)

    def _m_sendAnimation(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        return self._send_media("animation", p, ctx)

    def _m_sendAudio(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        return self._send_media("audio", p, ctx)

    def _m_sendDocument(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        return self._send_media("document", p, ctx)

    def _m_sendVoice(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        return self._send_media("voice", p, ctx)

    def _m_sendMediaGroup(self, p: _Params, ctx: _Ctx) -> list[dict[str, Any]]:
        chat_id = self._chat_id(p)
        media = p.json("media")
        if not isinstance(media, list):
            raise bad("can't parse media JSON object")
        if len(media) > 10:
            raise bad("too many messages to send as an album")
        if len(media) < 2:
            raise bad("wrong number of media: must include 2-10 items")
        types = {m.get("type") if isinstance(m, dict) else None for m in media}
        for kind in types:
            if kind not in ("photo", "video", "document", "audio"):
                raise bad(f"wrong type of the media: {kind}")
        for lone in ("document", "audio"):
            if lone in types and len(types) > 1:
                raise bad(f"{lone} can't be mixed with other media types")
        self._chat_for(chat_id)
        group_id = str(13_000_000_000_000_000 + next(self._seq))
        prepared = []
        for item in media:
            sub = _Params(
                {
                    "caption": item.get("caption"),
                    "parse_mode": item.get("parse_mode"),
                    "caption_entities": item.get("caption_entities"),
                    **{
                        k: item.get(k)
                        for k in ("width", "height", "duration", "title", "performer")
                    },
                }
            )
            caption, entities = self._format(
                sub, "caption", "parse_mode", "caption_entities", required=False, limit=1024
            )
            stored = self._resolve_media(item["type"], item.get("media"), ctx)
            prepared.append((item, sub, caption, entities, stored))
        sent = []
        for item, sub, caption, entities, stored in prepared:
            fields = {
                item["type"]: self._media_object(item["type"], stored, sub),
                "caption": caption,
                "caption_entities": entities,
                "media_group_id": group_id,
            }
            if item.get("has_spoiler"):
                fields["has_media_spoiler"] = True
            sent.append(self._send(chat_id, p, fields, None, None))
        return sent

    def _editable(self, p: _Params) -> MessageRecord:
        if p.present("inline_message_id") and not p.present("chat_id"):
            raise bad("MESSAGE_ID_INVALID")
        chat_id = self._chat_id(p)
        message_id = p.int("message_id")
        if message_id is None:
            raise bad("message identifier is not specified")
        rec = self._by_key.get((chat_id, message_id))
        if rec is None or rec.deleted:
            raise bad("message to edit not found")
        if rec.side != "bot":
            raise bad("message can't be edited")
        self._chat_for(chat_id)
        return rec

    @staticmethod
    def _set(msg: dict[str, Any], key: str, value: Any) -> None:
        if value is None:
            msg.pop(key, None)
        else:
            msg[key] = value

    def _commit(self, rec: MessageRecord) -> dict[str, Any]:
        rec.message["edit_date"] = int(time.time())
        rec.edited = True
        rec.version += 1
        rec.seq = next(self._seq)
        return copy.deepcopy(rec.message)

    def _m_editMessageText(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        rec = self._editable(p)
        text, entities = self._format(
            p, "text", "parse_mode", "entities", required=True, limit=4096
        )
        msg = rec.message
        if "text" not in msg:
            raise bad("there is no text in the message to edit")
        inline, _ = self._markup(p)
        preview = self._preview(text or "", p.json("link_preview_options"))
        if (
            msg.get("text") == text
            and msg.get("entities") == entities
            and msg.get("reply_markup") == inline
        ):
            raise bad(NOT_MODIFIED)
        msg["text"] = text
        self._set(msg, "entities", entities)
        self._set(msg, "link_preview_options", preview)
        self._set(msg, "reply_markup", inline)  # an edit without reply_markup drops the keyboard
        return self._commit(rec)

    def _m_editMessageCaption(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        rec = self._editable(p)
        msg = rec.message
        if not any(k in msg for k in MEDIA_KINDS):
            raise bad("there is no caption in the message to edit")
        caption, entities = self._format(
            p, "caption", "parse_mode", "caption_entities", required=False, limit=1024
        )
        inline, _ = self._markup(p)
        if (
            msg.get("caption") == caption
            and msg.get("caption_entities") == entities
            and msg.get("reply_markup") == inline
        ):
            raise bad(NOT_MODIFIED)
        self._set(msg, "caption", caption)
        self._set(msg, "caption_entities", entities)
        self._set(msg, "reply_markup", inline)
        return self._commit(rec)

    def _m_editMessageReplyMarkup(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        rec = self._editable(p)
        inline, _ = self._markup(p)
        if rec.message.get("reply_markup") == inline:
            raise bad(NOT_MODIFIED)
        self._set(rec.message, "reply_markup", inline)
        return self._commit(rec)

    def _m_deleteMessage(self, p: _Params, ctx: _Ctx) -> bool:
        chat_id = self._chat_id(p)
        rec = self._by_key.get((chat_id, p.int("message_id") or 0))
        if rec is None or rec.deleted:
            raise bad("message to delete not found")
        rec.deleted = True
        rec.seq = next(self._seq)
        return True

    def _m_deleteMessages(self, p: _Params, ctx: _Ctx) -> bool:
        chat_id = self._chat_id(p)
        ids = p.json("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad("message identifiers are not specified")
        for mid in ids:
            rec = self._by_key.get((chat_id, int(mid)))
            if rec is not None:
                rec.deleted = True
        return True

    def _m_answerCallbackQuery(self, p: _Params, ctx: _Ctx) -> bool:
        query_id = p.str("callback_query_id") or ""
        query = self._queries.get(query_id)
        now = time.monotonic()
        too_late = (
            query is not None
            and self.callback_answer_timeout is not None
            and now - query.created > self.callback_answer_timeout
        )
        if query is None or query.answered or too_late:
            raise bad(QUERY_TOO_OLD)
        text = p.str("text")
        if text is not None and len(text) > 200:
            raise bad("MESSAGE_TOO_LONG")
        query.answered = True
        self.answers.append(
            CallbackAnswer(
                query_id=query_id,
                user_id=query.user_id,
                data=query.data,
                text=text,
                show_alert=p.bool("show_alert"),
                url=p.str("url"),
                cache_time=p.int("cache_time"),
                answered_at=now,
                handed_at=query.handed_at,
            )
        )
        return True

    # -------------------------------------------------------------- Bot API: Stars payments

    @staticmethod
    def _required(p: _Params, key: str) -> str:
        value = p.str(key)
        if not value:
            raise bad(f'parameter "{key}" is required')
        return value

    @staticmethod
    def _prices(p: _Params) -> list[tuple[str, int]]:
        """LabeledPrice[] checked the way the Bot API server parses it."""
        FakeBotApiServer._required(p, "prices")
        raw = p.json("prices")
        if not isinstance(raw, list):
            raise bad("expected an Array of labeled prices")
        prices: list[tuple[str, int]] = []
        for item in raw:
            why = None
            if not isinstance(item, dict):
                why = "LabeledPrice must be an Object"
            elif not isinstance(item.get("label"), str):
                why = 'Field "label" must be of type String'
            elif not item["label"]:
                why = "LabeledPrice label must be non-empty"
            elif isinstance(item.get("amount"), bool) or not isinstance(
                item.get("amount"), (int, str)
            ):
                why = 'Field "amount" must be a valid Number'
            else:
                try:
                    prices.append((item["label"], int(item["amount"])))
                except ValueError:
                    why = 'Field "amount" must be a valid Number'
            if why is not None:
                raise bad(f"can't parse labeled price: {why}")
        if not prices:
            raise bad("there must be at least one price")
        return prices

    def _m_sendInvoice(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        chat_id = self._chat_id(p)
        title = self._required(p, "title")
        description = self._required(p, "description")
        payload = self._required(p, "payload")
        currency = self._required(p, "currency")
        prices = self._prices(p)
        inline, other = self._markup(p)
        provider_token = p.str("provider_token") or ""
        if currency != STARS:
            # Only Stars are emulated: any real currency needs a provider the fake has not got.
            raise bad("PAYMENT_PROVIDER_INVALID")
        tips = p.json("suggested_tip_amounts")
        if provider_token or len(prices) != 1 or (p.int("max_tip_amount") or 0) > 0 or tips:
            raise bad("STARS_INVOICE_INVALID")
        amount = prices[0][1]
        if not 1 <= amount <= MAX_STARS_INVOICE:
            raise bad("CURRENCY_TOTAL_AMOUNT_INVALID")
        if len(payload.encode()) > 128:
            raise bad("INVOICE_PAYLOAD_INVALID")
        if inline is not None:
            first = next((row[0] for row in inline["inline_keyboard"] if row), None)
            if not isinstance(first, dict) or first.get("pay") is not True:
                raise bad("REPLY_MARKUP_BUY_EMPTY")  # the first button must be the Pay one
        fields = {
            "invoice": {
                "title": title,
                "description": description,
                "start_parameter": p.str("start_parameter") or "",
                "currency": currency,
                "total_amount": amount,
            }
        }
        msg = self._send(chat_id, p, fields, inline, other)
        mid = msg["message_id"]
        self._invoices[(chat_id, mid)] = _Invoice(chat_id, mid, payload, currency, amount)
        return msg

    def _m_answerPreCheckoutQuery(self, p: _Params, ctx: _Ctx) -> bool:
        query_id = p.str("pre_checkout_query_id") or ""
        ok = p.bool("ok")
        error_message = None if ok else self._required(p, "error_message")
        checkout = self._checkouts.get(query_id)
        now = time.monotonic()
        if (
            checkout is None
            or checkout.answer is not None
            or checkout.expired
            or now > checkout.deadline
        ):
            raise bad("QUERY_ID_INVALID")
        checkout.answer = PreCheckoutAnswer(
            query_id=query_id,
            user_id=int(checkout.user["id"]),
            ok=ok,
            error_message=error_message,
            answered_at=now,
            handed_at=checkout.handed_at,
            created=checkout.created,
        )
        self.pre_checkout_answers.append(checkout.answer)
        self._cond.notify_all()
        return True

    def _m_refundStarPayment(self, p: _Params, ctx: _Ctx) -> bool:
        raw_user = p.raw.get("user_id")
        try:
            user_id = int(raw_user)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            user_id = 0
        if user_id <= 0:
            raise bad("invalid user_id specified")
        charge_id = self._required(p, "telegram_payment_charge_id")
        charge = self._charges.get(charge_id)
        if charge is None or int(charge.user["id"]) != user_id:
            raise bad("CHARGE_NOT_FOUND")
        if charge.refunded:
            raise bad("CHARGE_ALREADY_REFUNDED")
        msg = self._user_service_message(
            charge.user,
            {
                "refunded_payment": {
                    "currency": STARS,
                    "total_amount": charge.amount,
                    "invoice_payload": charge.payload,
                    "telegram_payment_charge_id": charge.charge_id,
                }
            },
        )
        charge.refund_date = msg["date"]
        self.star_transactions.append(
            {
                "id": charge.charge_id,
                "amount": charge.amount,
                "date": charge.refund_date,
                "receiver": self._star_partner(charge),
            }
        )
        self._enqueue("message", copy.deepcopy(msg))
        return True

    def _m_getStarTransactions(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        offset = max(0, p.int("offset", 0) or 0)
        asked = p.int("limit", 100)
        limit = min(100, max(1, 100 if asked is None else asked))  # clamped, as Telegram does
        return {"transactions": copy.deepcopy(self.star_transactions[offset : offset + limit])}

    def _m_getMyStarBalance(self, p: _Params, ctx: _Ctx) -> dict[str, Any]:
        kept = sum(c.amount for c in self._charges.values() if not c.refunded)
        return {"amount": kept}

    # ------------------------------------------------------------------ webhook delivery

    def _target(self, url: str) -> str:
        for prefix, local in self.webhook_routes:
            if url == prefix or url.startswith(prefix + "/") or url.startswith(prefix + "?"):
                return local + url[len(prefix) :]
        return url

    def _webhook_loop(self) -> None:
        with self._cond:
            while not self._stopping.is_set():
                wait = 0.5
                hook = self.webhook
                if hook is not None:
                    now = time.monotonic()
                    busy: set[Any] = set()
                    in_flight = sum(1 for m in self._meta.values() if m.in_flight)
                    for update in list(self.updates):
                        if in_flight >= hook.max_connections:
                            break
                        key = _chat_key(update)
                        if key in busy:
                            continue  # one at a time per chat, in order
                        busy.add(key)
                        meta = self._meta.setdefault(id(update), _Delivery())
                        if meta.in_flight:
                            continue
                        if meta.retry_at > now:
                            wait = min(wait, meta.retry_at - now)
                            continue
                        meta.in_flight = True
                        meta.attempts += 1
                        in_flight += 1
                        self._mark_handed([update])
                        body = json.dumps(update, ensure_ascii=False).encode()
                        threading.Thread(
                            target=self._deliver,
                            args=(hook, update, meta, body),
                            daemon=True,
                            name="fake-bot-api-delivery",
                        ).start()
                self._cond.wait(max(wait, 0.01))

    def _deliver(
        self, hook: Webhook, update: dict[str, Any], meta: _Delivery, body: bytes
    ) -> None:
        target = self._target(hook.url)
        started = time.monotonic()
        headers = {}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        if not is_loopback(target):
            status, error, data, ctype = (
                None,
                "Failed to resolve host: Name or service not known",
                b"",
                "",
            )
        else:
            status, reason, data, ctype = post_json(target, body, headers, self.webhook_timeout)
            error = (
                None
                if status is not None and 200 <= status < 300
                else (
                    f"Wrong response from the webhook: {status} {reason}"
                    if status is not None
                    else reason
                )
            )
        with self._cond:
            meta.in_flight = False
            self.webhook_attempts.append(
                WebhookAttempt(
                    update.get("update_id"), target, started, time.monotonic(), status, error
                )
            )
            if error is None:
                self._meta.pop(id(update), None)
                keep = [u for u in self.updates if u is not update]
                list.__init__(self.updates, keep)
            else:
                meta.failures += 1
                low, high = self.webhook_backoff
                meta.retry_at = time.monotonic() + min(high, low * 2 ** (meta.failures - 1))
                if self.webhook is hook:
                    hook.last_error_date = int(time.time())
                    hook.last_error_message = error
            self._cond.notify_all()
        if error is None and data:
            self._run_response_method(data, ctype)

    def _run_response_method(self, data: bytes, ctype: str) -> None:
        """A method in the webhook answer is executed, as Telegram does (no result returned)."""
        try:
            params = parse_body(data, ctype)
        except ValueError:
            return
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            token = self.token or f"{self.bot_user['id']}:webhook-response"
            self._call(token, method, params, _Ctx(lambda: False))


@dataclass
class _Described:
    result: Any
    description: str


_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_BUTTON_KINDS = {
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
}
_TRUE_METHODS = (
    "setMessageReaction",
    "pinChatMessage",
    "unpinChatMessage",
    "unpinAllChatMessages",
    "leaveChat",
    "logOut",
    "close",
    "setMyDefaultAdministratorRights",
)


def _chat_key(update: Any) -> Any:
    if not isinstance(update, dict):
        return ("raw", id(update))
    for key, payload in update.items():
        if key == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
        sender = payload.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return ("user", sender["id"])
    return ("update", update.get("update_id", id(update)))


def _client_gone(sock: socket.socket) -> bool:
    """True once the client closed its side (a long poll nobody waits for any more)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True
