"""HttpxKieClient: Kie.ai's market API, account, download-url and file upload endpoints."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import httpx
import stamina

from .errors import KieTransportError, KieUnavailable, check, check_record, is_retryable
from .limiter import SlidingWindowLimiter

log = logging.getLogger(__name__)

API_BASE = "https://api.kie.ai"
UPLOAD_BASE = "https://kieai.redpandaai.co"


@attrs.frozen
class KieTimeouts:
    """Explicit per-call timeouts (create ~30 s, query ~15 s)."""

    create: float = 30.0
    query: float = 15.0
    upload: float = 120.0
    connect: float = 10.0

    def of(self, seconds: float) -> httpx.Timeout:
        return httpx.Timeout(seconds, connect=min(self.connect, seconds))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} to Kie.ai")


class HttpxKieClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        api_key: str,
        api_base: str = API_BASE,
        upload_base: str = UPLOAD_BASE,
        timeouts: KieTimeouts | None = None,
        limiter: SlidingWindowLimiter | None = None,
        retry_attempts: int = 4,
        create_429_attempts: int = 3,
    ) -> None:
        self._http = http
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._api = api_base.rstrip("/")
        self._upload = upload_base.rstrip("/")
        self._timeouts = timeouts or KieTimeouts()
        self._limiter = limiter or SlidingWindowLimiter()
        self._attempts = retry_attempts
        self._create_429_attempts = create_429_attempts

    async def create_task(
        self, model: str, payload: Mapping[str, Any], callback_url: str | None
    ) -> str:
        """POST createTask once. Never retried after it may have reached Kie.ai."""
        body: dict[str, Any] = {"model": model, "input": dict(payload)}
        if callback_url:
            body["callBackUrl"] = callback_url
        content = json.dumps(body, default=_json_default)
        for attempt in range(1, self._create_429_attempts + 1):
            await self._limiter.acquire()
            try:
                data = await self._create_once(content)
            except KieUnavailable as exc:
                # A 429 is a definite "not created, not queued": waiting and resending is safe.
                if exc.code == 429 and attempt < self._create_429_attempts:
                    log.warning("createTask rate limited; queueing attempt=%s", attempt)
                    self._limiter.penalise()
                    continue
                raise
            task_id = data.get("taskId") if isinstance(data, dict) else None
            if not isinstance(task_id, str) or not task_id:
                raise KieTransportError("createTask answered success without a taskId")
            return task_id
        raise AssertionError("unreachable")

    async def _create_once(self, content: str) -> Any:
        try:
            response = await self._http.post(
                f"{self._api}/api/v1/jobs/createTask",
                content=content,
                headers={**self._headers, "Content-Type": "application/json"},
                timeout=self._timeouts.of(self._timeouts.create),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # The request never left this machine: nothing was created.
            raise KieUnavailable(0, "Kie.ai unreachable", type(exc).__name__, True) from None
        except httpx.TransportError as exc:
            raise KieTransportError(f"createTask outcome unknown: {type(exc).__name__}") from None
        if response.status_code in (502, 504) and not _is_envelope(response):
            # A gateway error says nothing about whether Kie.ai created the task.
            raise KieTransportError(f"createTask outcome unknown: HTTP {response.status_code}")
        return check(response)

    async def record_info(self, task_id: str) -> dict[str, Any]:
        """The task's record. Raises KieNotFound while the record does not exist yet, and
        KieTaskEnded when the answer's code says the task failed or timed out."""
        data = await self._retrying(
            "GET",
            f"{self._api}/api/v1/jobs/recordInfo",
            self._timeouts.query,
            read=check_record,
            params={"taskId": task_id},
        )
        if not isinstance(data, dict):
            raise KieUnavailable(200, "recordInfo answered no task record", "", True)
        return data

    async def credits(self) -> Decimal:
        data = await self._retrying("GET", f"{self._api}/api/v1/chat/credit", self._timeouts.query)
        try:
            return Decimal(str(data))
        except InvalidOperation:
            raise KieUnavailable(200, "credit balance is not a number", str(data), False) from None

    async def upload(
        self, content: bytes, filename: str, mime: str, upload_path: str = "kiebot"
    ) -> str:
        """Stream-upload a user's file; returns the Kie-hosted URL models accept (3 days)."""
        data = await self._retrying(
            "POST",
            f"{self._upload}/api/file-stream-upload",
            self._timeouts.upload,
            files={"file": (filename, content, mime)},
            data={"uploadPath": upload_path},
        )
        # Two response shapes are in use; downloadUrl is in both, fileUrl only in one.
        url = (data or {}).get("downloadUrl") or (data or {}).get("fileUrl")
        if not isinstance(url, str) or not url.startswith("http"):
            raise KieUnavailable(200, "upload answered no file URL", "", False)
        return url

    async def _retrying(
        self,
        method: str,
        url: str,
        seconds: float,
        read: Callable[[httpx.Response], Any] = check,
        **kwargs: Any,
    ) -> Any:
        """Idempotent calls only: retried with backoff and jitter on transient failures;
        ``read`` turns the answer into its ``data`` or the endpoint's error."""
        async for attempt in stamina.retry_context(
            on=is_retryable, attempts=self._attempts, timeout=120.0, wait_max=30.0
        ):
            with attempt:
                try:
                    response = await self._http.request(
                        method,
                        url,
                        headers=self._headers,
                        timeout=self._timeouts.of(seconds),
                        **kwargs,
                    )
                except httpx.TransportError as exc:
                    raise KieTransportError(f"{type(exc).__name__} calling Kie.ai") from exc
                return read(response)
        raise AssertionError("unreachable")


def _is_envelope(response: httpx.Response) -> bool:
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False
