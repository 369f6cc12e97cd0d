"""FakeKieServer: Kie.ai's market API, file upload API, CDN and callbacks over real HTTP.

One loopback server plays three hosts, told apart by path prefix:

* ``api_base`` (= ``base``): ``/api/v1/jobs/createTask``, ``/api/v1/jobs/recordInfo``,
  ``/api/v1/chat/credit``, ``/api/v1/common/download-url``;
* ``upload_base`` (= ``base + "/upload"``): ``/api/file-stream-upload``,
  ``/api/file-base64-upload``, ``/api/file-url-upload``; a client that sends an upload to
  the API host (or a task to the upload host) gets a 404, as it would in production;
* the file hosts: results under ``/files/results/…`` and uploads under ``/files/uploads/…``,
  answered with real magic bytes and Content-Type.

Answers follow Kie.ai's envelope ``{code, msg, data}``: logical errors come as HTTP 200 with
the code in the body unless ``mirror_status`` is set. ``resultJson`` and ``param`` are JSON
*strings*. Tasks move waiting → queuing → generating → success|fail on the wall clock (or wait
for ``finish()`` when held), and when createTask carried ``callBackUrl`` the final record is
POSTed there, retried a few times on failure, as Kie.ai does.

What a task does is scripted: ``script(...)`` queues outcomes for the next createTask calls;
otherwise a marker ``kie:<outcome>`` in any input text picks it (``a cat kie:fail``); otherwise
it succeeds. Outcomes: success, fail, policy, html_result, empty_result, create_502,
maintenance, no_credits, rate_limited, slow_create, no_callback, late_record.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import mimetypes
import re
import secrets
import struct
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from tests.fakes.bot_api_server import (
    BodyTooLarge,
    LoopbackHttpServer,
    UploadedFile,
    handler_serving,
    is_loopback,
    make_png,
    nginx_page,
    parse_body,
    post_json,
    read_body,
    send_bytes,
)
from tests.fakes.waiting import wait_for

API_KEY = "kie-test-key-0123456789abcdef"
OUTCOMES = (
    "success",
    "fail",
    "policy",
    "html_result",
    "empty_result",
    "create_502",
    "maintenance",
    "no_credits",
    "rate_limited",
    "slow_create",
    "no_callback",
    "late_record",
)
_MARKER = re.compile(r"\bkie:(" + "|".join(OUTCOMES) + r")\b")


def make_mp4(size: int = 2048) -> bytes:
    """An ISO-BMFF header (ftyp + free + mdat): enough for type sniffing."""
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isommp41"
    free = struct.pack(">I", 8) + b"free"
    payload = bytes(range(256)) * max(1, (size - 40) // 256)
    return ftyp + free + struct.pack(">I", 8 + len(payload)) + b"mdat" + payload


def make_mp3(frames: int = 8) -> bytes:
    """An ID3v2 tag followed by MPEG-1 Layer III frame headers (128 kbit/s, 44.1 kHz)."""
    frame = b"\xff\xfb\x90\x64" + b"\x00" * 413
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + frame * frames


HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Access denied | tempfile.aiquickdraw.com</title></head>"
    b"<body><h1>Error 1020</h1><p>Access denied. The owner of this website has banned your "
    b"access based on your browser's signature.</p></body></html>\n"
)


@dataclass(frozen=True)
class Outcome:
    """What one task does. ``kind`` is one of OUTCOMES."""

    kind: str = "success"
    duration: float | None = None
    """Seconds from createTask to the final state (None: the server's task_seconds)."""
    hold: bool = False
    """Stay "generating" until ``finish(task_id)``."""
    fail_code: str = "500"
    fail_msg: str = "Internal server error"
    files: int = 1
    """How many result URLs a success has."""
    result: bytes | None = None
    """The bytes served for the result (default: by the model's kind: PNG, MP4, MP3)."""
    create_delay: float = 0.0
    callback: bool = True
    duplicate_callbacks: int = 0
    visible_after: float = 0.0
    """recordInfo answers "not found" for this long after createTask."""
    invisible_code: int = 404
    created: bool = False
    """For create_502: whether Kie.ai created the task behind the gateway error."""


def outcome_named(kind: str, slow_create_seconds: float) -> Outcome:
    if kind not in OUTCOMES:
        raise ValueError(f"unknown Kie outcome {kind!r}; known: {', '.join(OUTCOMES)}")
    if kind == "fail":
        return Outcome("fail", fail_code="501", fail_msg="Generation failed, please try again")
    if kind == "policy":
        return Outcome(
            "fail",
            fail_code="400",
            fail_msg="The prompt was flagged as violating the content policy (prohibited content)",
        )
    if kind == "slow_create":
        return Outcome("success", create_delay=slow_create_seconds)
    if kind == "no_callback":
        return Outcome("success", callback=False)
    if kind == "late_record":
        return Outcome("success", visible_after=1.0)
    return Outcome(kind)


@dataclass
class KieCall:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    authorization: str | None
    at: float


@dataclass
class CallbackAttempt:
    task_id: str
    url: str
    body: dict[str, Any]
    status: int | None
    error: str | None
    at: float

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Upload:
    endpoint: str
    file_name: str
    upload_path: str
    mime: str
    content: bytes
    download_url: str


@dataclass
class KieTask:
    task_id: str
    model: str
    body: dict[str, Any]
    """The createTask body as Kie.ai received it."""
    outcome: Outcome
    created_wall_ms: int
    created: float
    duration: float
    done_at: float | None
    urls: list[str] = field(default_factory=list)
    callback_sent: bool = False
    billed: bool = False

    def state(self, now: float) -> str:
        if self.done_at is not None and now >= self.done_at:
            return "fail" if self.outcome.kind == "fail" else "success"
        elapsed = now - self.created
        if elapsed < self.duration * 0.2:
            return "waiting"
        if elapsed < self.duration * 0.4:
            return "queuing"
        return "generating"


def _kind_of_model(model: str) -> str:
    name = model.lower()
    if "speech-to-text" in name:
        return "text"
    if "video" in name or any(k in name for k in ("kling", "sora", "hailuo", "veo", "seedance")):
        return "video"
    if any(k in name for k in ("elevenlabs", "audio", "tts", "sound", "music", "suno")):
        return "audio"
    return "image"


class FakeKieServer:
    def __init__(
        self,
        api_key: str = API_KEY,
        *,
        balance: float = 10_000.0,
        price: float = 4.0,
        task_seconds: float = 0.3,
        callback_delay: float = 0.0,
        callback_retries: int = 3,
        callback_backoff: float = 0.2,
        callback_timeout: float = 15.0,
        slow_create_seconds: float = 3.0,
        mirror_status: bool = False,
        hmac_key: str | None = None,
        outputs: dict[str, str] | None = None,
        create_limit: tuple[int, float] | None = (20, 10.0),
    ) -> None:
        self.api_key = api_key
        self.balance = balance
        self.price = price
        self.task_seconds = task_seconds
        self.callback_delay = callback_delay
        self.callback_retries = callback_retries
        self.callback_backoff = callback_backoff
        self.callback_timeout = callback_timeout
        self.slow_create_seconds = slow_create_seconds
        self.mirror_status = mirror_status
        """Send the envelope code as the HTTP status too (the other reading of the docs)."""
        self.hmac_key = hmac_key
        """If set, callbacks carry X-Webhook-Timestamp and X-Webhook-Signature."""
        self.outputs = dict(outputs or {})
        """kie_model → "image" | "video" | "audio" | "text"; guessed from the name otherwise."""
        self.create_limit = create_limit
        """(creates, seconds) per key; more are answered 429 and not queued, as Kie.ai does."""
        self.maintenance = False
        """While True every API call answers code 455."""

        self.calls: list[KieCall] = []
        self.tasks: dict[str, KieTask] = {}
        self.callbacks: list[CallbackAttempt] = []
        self.uploads: list[Upload] = []
        self.downloads: list[str] = []
        self.callback_routes: list[tuple[str, str]] = []
        self._script: deque[Outcome] = deque()
        self._files: dict[str, tuple[bytes, str]] = {}
        self._creates: deque[float] = deque()
        self._cond = threading.Condition(threading.RLock())
        self._stopping = threading.Event()
        self._seq = itertools.count(1)
        self._http = LoopbackHttpServer(self._handler())
        self.base = f"http://127.0.0.1:{self._http.port}"
        self.api_base = self.base
        self.upload_base = f"{self.base}/upload"
        self._scheduler: threading.Thread | None = None

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> FakeKieServer:
        self._http.start()
        self._scheduler = threading.Thread(
            target=self._callback_loop, daemon=True, name="fake-kie-callbacks"
        )
        self._scheduler.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._http.stop()
        if self._scheduler is not None:
            self._scheduler.join(5)

    @contextmanager
    def running(self) -> Iterator[FakeKieServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def env(self) -> dict[str, str]:
        """The settings a kiebot process needs to use this fake."""
        return {
            "KIE_MODE": "real",
            "KIE_API_KEY": self.api_key,
            "KIE_API_BASE": self.api_base,
            "KIE_UPLOAD_BASE": self.upload_base,
        }

    # ------------------------------------------------------------------------ test-side API

    def script(self, *outcomes: Outcome | str) -> None:
        """Outcomes for the next createTask calls, in order (before any prompt marker)."""
        with self._cond:
            for item in outcomes:
                self._script.append(
                    item
                    if isinstance(item, Outcome)
                    else outcome_named(item, self.slow_create_seconds)
                )

    def created(self) -> list[dict[str, Any]]:
        """The createTask bodies of tasks that exist (in creation order)."""
        with self._cond:
            return [t.body for t in self.tasks.values()]

    def create_calls(self) -> list[Any]:
        """Every createTask body received, whatever the answer was."""
        with self._cond:
            return [c.json for c in self.calls if c.path == "/api/v1/jobs/createTask"]

    def calls_to(self, path: str) -> list[KieCall]:
        with self._cond:
            return [c for c in self.calls if c.path == path]

    def task(self, task_id: str) -> KieTask:
        with self._cond:
            return self.tasks[task_id]

    def state(self, task_id: str) -> str:
        with self._cond:
            return self.tasks[task_id].state(time.monotonic())

    def finish(self, task_id: str, outcome: Outcome | str | None = None) -> None:
        """End a (held) task now, optionally with another outcome."""
        with self._cond:
            task = self.tasks[task_id]
            if outcome is not None:
                chosen = (
                    outcome
                    if isinstance(outcome, Outcome)
                    else outcome_named(outcome, self.slow_create_seconds)
                )
                task.outcome = replace(chosen, hold=False)
                self._prepare_results(task)
            task.done_at = time.monotonic()
            self._cond.notify_all()

    def route_callbacks(self, public_prefix: str, local_base: str) -> None:
        """Send callbacks for ``public_prefix…`` to ``local_base…``; other non-loopback hosts
        fail as unreachable (nothing leaves this machine)."""
        with self._cond:
            self.callback_routes.append((public_prefix.rstrip("/"), local_base.rstrip("/")))

    def wait_for_callback(
        self, task_id: str | None = None, timeout: float = 10.0, *, ok: bool = True
    ) -> CallbackAttempt:
        found: list[CallbackAttempt] = []

        def check() -> bool:
            with self._cond:
                found.extend(
                    c
                    for c in self.callbacks
                    if (task_id is None or c.task_id == task_id) and (c.ok or not ok)
                )
            return bool(found)

        wait_for(check, timeout, f"a Kie callback for {task_id or 'any task'}")
        return found[0]

    def wait_for_task(self, timeout: float = 10.0) -> KieTask:
        """The newest task, once one exists."""
        wait_for(lambda: bool(self.tasks), timeout, "a Kie task")
        with self._cond:
            return list(self.tasks.values())[-1]

    def put_result(self, name: str, content: bytes, content_type: str) -> str:
        """Serve bytes on the result host; returns their URL."""
        path = f"/files/results/{name}"
        with self._cond:
            self._files[path] = (content, content_type)
        return self.base + path

    # ----------------------------------------------------------------------------- serving

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return handler_serving(self._serve)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        if path.startswith("/files/") and handler.command in ("GET", "HEAD"):
            self._serve_file(handler, path)
            return
        try:
            raw = read_body(handler, 200 * 1024 * 1024)
        except BodyTooLarge:
            handler.close_connection = True
            self._envelope(handler, 413, "Payload Too Large")
            return
        ctype = handler.headers.get("Content-Type", "")
        try:
            body: Any = parse_body(raw, ctype) if raw else {}
        except ValueError:
            body = None
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        auth = handler.headers.get("Authorization")
        with self._cond:
            self.calls.append(KieCall(handler.command, path, query, body, auth, time.time()))
            self._cond.notify_all()
        route = {
            ("POST", "/api/v1/jobs/createTask"): self._create_task,
            ("GET", "/api/v1/jobs/recordInfo"): self._record_info,
            ("GET", "/api/v1/chat/credit"): self._credit,
            ("POST", "/api/v1/common/download-url"): self._download_url,
            ("POST", "/upload/api/file-stream-upload"): self._stream_upload,
            ("POST", "/upload/api/file-base64-upload"): self._base64_upload,
            ("POST", "/upload/api/file-url-upload"): self._url_upload,
        }.get((handler.command, path))
        if route is None:
            self._envelope(handler, 404, "Not Found", http_status=404)
            return
        if auth != f"Bearer {self.api_key}":
            self._envelope(handler, 401, "You do not have access permissions")
            return
        if self.maintenance and not path.startswith("/upload/"):
            self._envelope(handler, 455, "Service is under maintenance, please try again later")
            return
        if body is None:
            self._envelope(handler, 400, "Invalid request body: malformed JSON")
            return
        route(handler, body, query)

    def _envelope(
        self,
        handler: BaseHTTPRequestHandler,
        code: int,
        msg: str,
        data: Any = None,
        *,
        http_status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        status = http_status or (code if self.mirror_status and code != 200 else 200)
        payload = {"code": code, "msg": msg, "data": data, **(extra or {})}
        with contextlib.suppress(OSError):
            send_bytes(
                handler,
                status,
                json.dumps(payload, ensure_ascii=False).encode(),
                "application/json;charset=UTF-8",
            )

    def _serve_file(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        with self._cond:
            found = self._files.get(path)
            self.downloads.append(path)
        if found is None:
            with contextlib.suppress(OSError):
                send_bytes(handler, 404, b"<html><body>404 Not Found</body></html>", "text/html")
            return
        content, ctype = found
        with contextlib.suppress(OSError):
            send_bytes(handler, 200, content, ctype, {"Cache-Control": "max-age=86400"})

    # ----------------------------------------------------------------------- market API

    def _next_outcome(self, body: dict[str, Any]) -> Outcome:
        with self._cond:
            if self._script:
                return self._script.popleft()
        texts = [v for v in _strings(body.get("input")) if "kie:" in v]
        for text in texts:
            match = _MARKER.search(text)
            if match:
                return outcome_named(match.group(1), self.slow_create_seconds)
        return Outcome()

    def _create_task(self, handler: BaseHTTPRequestHandler, body: Any, query: Any) -> None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            self._envelope(handler, 422, "model is required")
            return
        if not isinstance(body.get("input"), dict):
            self._envelope(handler, 422, "input is required and must be an object")
            return
        callback = body.get("callBackUrl")
        if callback is not None and not re.match(r"^https?://[^\s/]+", str(callback)):
            self._envelope(handler, 422, "callBackUrl must be an absolute http(s) URL")
            return
        outcome = self._next_outcome(body)
        if outcome.kind == "create_502":
            if outcome.created:
                self._new_task(model, body, replace(outcome, kind="success"))
            with contextlib.suppress(OSError):
                send_bytes(handler, 502, nginx_page(502), "text/html")
            return
        if outcome.kind == "maintenance":
            self._envelope(handler, 455, "Service is under maintenance, please try again later")
            return
        if outcome.kind == "no_credits" or self.balance < self.price:
            self._envelope(handler, 402, "Credits insufficient")
            return
        if outcome.kind == "rate_limited" or not self._admit_create():
            self._envelope(handler, 429, "Rate limit exceeded")
            return
        task = self._new_task(model, body, outcome)
        if outcome.create_delay > 0:
            self._stopping.wait(outcome.create_delay)  # created, but the answer is slow
        self._envelope(
            handler, 200, "success", {"taskId": task.task_id, "recordId": task.task_id[:16]}
        )

    def _admit_create(self) -> bool:
        if self.create_limit is None:
            return True
        limit, window = self.create_limit
        now = time.monotonic()
        with self._cond:
            while self._creates and now - self._creates[0] > window:
                self._creates.popleft()
            if len(self._creates) >= limit:
                return False
            self._creates.append(now)
        return True

    def _new_task(self, model: str, body: dict[str, Any], outcome: Outcome) -> KieTask:
        now = time.monotonic()
        duration = self.task_seconds if outcome.duration is None else outcome.duration
        task = KieTask(
            task_id=secrets.token_hex(16),
            model=model,
            body=body,
            outcome=outcome,
            created_wall_ms=int(time.time() * 1000),
            created=now,
            duration=duration,
            done_at=None if outcome.hold else now + duration,
        )
        self._prepare_results(task)
        with self._cond:
            self.tasks[task.task_id] = task
            self._cond.notify_all()
        return task

    def _prepare_results(self, task: KieTask) -> None:
        outcome = task.outcome
        task.urls = []
        if outcome.kind in ("fail", "empty_result"):
            return
        kind = self.outputs.get(task.model) or _kind_of_model(task.model)
        if kind == "text":
            return
        ext, ctype = {
            "video": (".mp4", "video/mp4"),
            "audio": (".mp3", "audio/mpeg"),
        }.get(kind, (".png", "image/png"))
        for i in range(max(1, outcome.files)):
            n = next(self._seq)
            if outcome.kind == "html_result":
                content, served = HTML_ERROR_PAGE, "text/html; charset=UTF-8"
            elif outcome.result is not None:
                content, served = outcome.result, ctype
            elif kind == "video":
                content, served = make_mp4(), ctype
            elif kind == "audio":
                content, served = make_mp3(), ctype
            else:
                shade = (n * 53) % 256
                content, served = make_png(64, 64, (shade, 255 - shade, 90)), ctype
            task.urls.append(self.put_result(f"{task.task_id}_{i}{ext}", content, served))

    def _record(self, task: KieTask, now: float) -> dict[str, Any]:
        state = task.state(now)
        kind = self.outputs.get(task.model) or _kind_of_model(task.model)
        final = state in ("success", "fail")
        phase_ms = {
            "waiting": 0,
            "queuing": int(task.duration * 200),
            "generating": int(task.duration * 400),
        }
        elapsed_ms = int(((task.done_at or now) - task.created) * 1000)
        update_ms = elapsed_ms if final else phase_ms[state]
        result_json = ""
        if state == "success":
            if kind == "text" and task.outcome.kind != "empty_result":
                result: dict[str, Any] = {
                    "resultObject": {
                        "text": "Hello from the fake transcript.",
                        "language_code": "en",
                    }
                }
            else:
                result = {"resultUrls": list(task.urls)}
            result_json = json.dumps(result)
        return {
            "taskId": task.task_id,
            "model": task.model,
            "state": state,
            "param": json.dumps(task.body, ensure_ascii=False),
            "resultJson": result_json,
            "failCode": task.outcome.fail_code if state == "fail" else "",
            "failMsg": task.outcome.fail_msg if state == "fail" else "",
            "costTime": elapsed_ms if final else 0,
            "completeTime": task.created_wall_ms + elapsed_ms if final else None,
            "createTime": task.created_wall_ms,
            "updateTime": task.created_wall_ms + update_ms,
        }

    def _record_info(self, handler: BaseHTTPRequestHandler, body: Any, query: Any) -> None:
        task_id = query.get("taskId")
        if not task_id:
            self._envelope(handler, 400, "taskId parameter is required")
            return
        now = time.monotonic()
        with self._cond:
            task = self.tasks.get(task_id)
            if task is not None and now - task.created < task.outcome.visible_after:
                code = task.outcome.invisible_code
                self._envelope(
                    handler, code, "recordInfo is null" if code == 422 else "Task not found"
                )
                return
            if task is None:
                self._envelope(handler, 404, "Task not found")
                return
            record = self._record(task, now)
            self._bill(task, record["state"])
        self._envelope(handler, 200, "success", record)

    def _bill(self, task: KieTask, state: str) -> None:
        if state == "success" and not task.billed:
            task.billed = True
            self.balance -= self.price

    def _credit(self, handler: BaseHTTPRequestHandler, body: Any, query: Any) -> None:
        with self._cond:
            now = time.monotonic()
            for task in self.tasks.values():
                self._bill(task, task.state(now))
            balance = self.balance
        self._envelope(handler, 200, "success", balance)

    def _download_url(self, handler: BaseHTTPRequestHandler, body: Any, query: Any) -> None:
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith(self.base + "/files/"):
            self._envelope(handler, 422, "The URL is not a file generated by Kie.ai")
            return
        self._envelope(
            handler, 200, "success", f"{url}?X-Amz-Expires=1200&sig={secrets.token_hex(8)}"
        )

    # --------------------------------------------------------------------------- uploads

    def _stored_upload(
        self, endpoint: str, content: bytes, name: str | None, path: str | None, mime: str | None
    ) -> dict[str, Any]:
        upload_path = (path or "").strip("/")
        file_name = name or f"{secrets.token_hex(8)}.bin"
        mime = mime or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        file_path = f"{upload_path}/{file_name}" if upload_path else file_name
        served = f"/files/uploads/{file_path}"
        url = self.base + quote(served)
        with self._cond:
            self._files[served] = (content, mime)
            self.uploads.append(Upload(endpoint, file_name, upload_path, mime, content, url))
        return {
            "fileName": file_name,
            "filePath": file_path,
            "downloadUrl": url,
            "fileSize": len(content),
            "mimeType": mime,
            "uploadedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        }

    def _upload_answer(self, handler: BaseHTTPRequestHandler, data: dict[str, Any]) -> None:
        self._envelope(handler, 200, "File uploaded successfully", data, extra={"success": True})

    def _stream_upload(self, handler: BaseHTTPRequestHandler, body: Any, query: Any) -> None:
        part = body.get("file")
        if not isinstance(part, UploadedFile):
            self._envelope(handler, 400, "file is required", extra={"success": False})
            return
        if not body.get("uploadPath"):
            self._envelope(handler, 400, "uploadPath is required", extra={"success": False})
            return
        mime = part.content_type if part.content_type != "application/octet-stream" else None
        data = self._stored_upload(
            "stream", part.content, body.get("fileName") or part.filename, body["uploadPath"], mime
        )
        self._upload_answer(handler, data)

    def _base64_upload(self, handler: BaseHTTPRequestHandler, body: Any, query: Any) -> None:
        raw = body.get("base64Data")
        if not isinstance(raw, str) or not raw:
            self._envelope(handler, 400, "base64Data is required", extra={"success": False})
            return
        mime = None
        if raw.startswith("data:"):
            header, _, raw = raw.partition(",")
            mime = header[5:].split(";", 1)[0] or None
        try:
            content = base64.b64decode(raw, validate=True)
        except ValueError:
            self._envelope(
                handler, 400, "base64Data is not valid base64", extra={"success": False}
            )
            return
        data = self._stored_upload(
            "base64", content, body.get("fileName"), body.get("uploadPath"), mime
        )
        self._upload_answer(handler, data)

    def _url_upload(self, handler: BaseHTTPRequestHandler, body: Any, query: Any) -> None:
        url = body.get("fileUrl")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            self._envelope(handler, 400, "fileUrl is required", extra={"success": False})
            return
        if not is_loopback(url):
            self._envelope(
                handler, 500, "Failed to download file from URL", extra={"success": False}
            )
            return
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                url, timeout=30
            ) as r:
                content, mime = r.read(), r.headers.get_content_type()
        except OSError:
            self._envelope(
                handler, 500, "Failed to download file from URL", extra={"success": False}
            )
            return
        name = body.get("fileName") or urlsplit(url).path.rsplit("/", 1)[-1] or None
        data = self._stored_upload("url", content, name, body.get("uploadPath"), mime)
        self._upload_answer(handler, data)

    # ------------------------------------------------------------------------- callbacks

    def _callback_body(self, task: KieTask, record: dict[str, Any]) -> dict[str, Any]:
        data = dict(record)
        data["costTime"] = max(1, round((record["costTime"] or 0) / 1000))
        if record["state"] == "success":
            data.update(failCode=None, failMsg=None, creditsConsumed=self.price)
            return {"code": 200, "msg": "Playground task completed successfully.", "data": data}
        data.pop("resultJson", None)
        data["creditsConsumed"] = 0
        code = {"400": 400, "500": 500}.get(str(task.outcome.fail_code), 501)
        return {"code": code, "msg": "Playground task failed.", "data": data}

    def _callback_target(self, url: str) -> str:
        for prefix, local in self.callback_routes:
            if url == prefix or url.startswith(prefix + "/"):
                return local + url[len(prefix) :]
        return url

    def _callback_loop(self) -> None:
        with self._cond:
            while not self._stopping.is_set():
                now = time.monotonic()
                wait = 0.5
                for task in self.tasks.values():
                    url = task.body.get("callBackUrl")
                    if task.callback_sent or not url or not task.outcome.callback:
                        continue
                    if task.done_at is None:
                        continue
                    due = task.done_at + self.callback_delay
                    if due > now:
                        wait = min(wait, due - now)
                        continue
                    task.callback_sent = True
                    record = self._record(task, max(now, task.done_at))
                    self._bill(task, record["state"])
                    body = self._callback_body(task, record)
                    threading.Thread(
                        target=self._send_callback,
                        args=(task, str(url), body),
                        daemon=True,
                        name="fake-kie-callback",
                    ).start()
                self._cond.wait(max(wait, 0.01))

    def _send_callback(self, task: KieTask, url: str, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        sends = 1 + task.outcome.duplicate_callbacks
        for _ in range(sends):
            for attempt in range(1 + self.callback_retries):
                if self._stopping.is_set():
                    return
                headers = {"User-Agent": "kie-callback/1.0"}
                if self.hmac_key:
                    stamp = str(int(time.time()))
                    digest = hmac.new(
                        self.hmac_key.encode(), f"{task.task_id}.{stamp}".encode(), hashlib.sha256
                    ).digest()
                    headers["X-Webhook-Timestamp"] = stamp
                    headers["X-Webhook-Signature"] = base64.b64encode(digest).decode()
                target = self._callback_target(url)
                if is_loopback(target):
                    status, reason, _, _ = post_json(target, data, headers, self.callback_timeout)
                    ok = status is not None and 200 <= status < 300
                    error = None if ok else (f"HTTP {status} {reason}" if status else reason)
                else:
                    status, error = None, "host unreachable from the fake (no route)"
                with self._cond:
                    self.callbacks.append(
                        CallbackAttempt(task.task_id, target, body, status, error, time.time())
                    )
                    self._cond.notify_all()
                if error is None:
                    break
                self._stopping.wait(self.callback_backoff * 2**attempt)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
