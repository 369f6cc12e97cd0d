"""``POST /kie/callback/{job_id}/{token}``: verify, persist, answer 200 fast, apply after.

Kie.ai waits 15 s for an answer and retries non-2xx ones, so a callback that is genuine gets a
200 once stored — duplicates and late ones included, or the retries would never stop. A
callback whose token is right but whose task is another than the job's gets a 409: it was
misrouted or forged, and must show as an error here and in Kie.ai's retries. Applying the
result runs after the response; the reconciler picks up whatever that step did not finish.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from adapters.kie.errors import classify_failure
from adapters.kie.records import output_kinds, parse_callback
from core.domain.catalog import Catalog
from core.ports.clock import ClockPort
from core.usecases.callbacks import ReceiveCallback, Received

log = logging.getLogger(__name__)

MAX_CALLBACK_BODY = 256 * 1024  # a task record with a few URLs is a few KiB
TIMESTAMP_HEADER = "x-webhook-timestamp"
SIGNATURE_HEADER = "x-webhook-signature"


@attrs.define
class KieCallbackDeps:
    """``receive`` None (storage not up yet) answers 503, which Kie.ai retries. ``catalog``
    says what each model produces: the kind of a result file whose URL does not tell."""

    clock: ClockPort
    catalog: Catalog
    receive: ReceiveCallback | None = None
    process: Callable[[str], Awaitable[object]] | None = None
    hmac_key: str | None = None
    tolerance_seconds: int = 300


def signature_ok(
    key: str, task_id: str, timestamp: str, signature: str, now: float, tolerance: int
) -> bool:
    """Kie.ai's signature, base64(HMAC-SHA256(key, taskId + "." + timestamp)), bounded in
    time."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > tolerance:
        return False  # a replay of an old, once-valid signature
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def _answer(status: int, ok: bool, background: BackgroundTask | None = None) -> Response[Any]:
    return Response({"ok": ok}, status_code=status, background=background)


async def _process_safely(process: Callable[[str], Awaitable[object]], job_id: str) -> None:
    try:
        await process(job_id)
    except Exception:
        log.exception("processing a stored callback failed job_id=%s (reconciler retries)", job_id)


def kie_callback_routes(deps: KieCallbackDeps) -> list[ControllerRouterHandler]:
    output_of = output_kinds(deps.catalog)

    @post(
        "/kie/callback/{job_id:str}/{token:str}",
        request_max_body_size=MAX_CALLBACK_BODY,
        status_code=200,
    )
    async def kie_callback(
        request: Request[Any, Any, Any], job_id: FromPath[str], token: FromPath[str]
    ) -> Response[Any]:
        if deps.receive is None:
            return _answer(503, False)
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return _answer(400, False)
        if not isinstance(body, dict):
            return _answer(400, False)
        task_id, status = parse_callback(body, output_of)
        status = classify_failure(status, body.get("data"))
        if deps.hmac_key and not signature_ok(
            deps.hmac_key,
            task_id or "",
            request.headers.get(TIMESTAMP_HEADER, ""),
            request.headers.get(SIGNATURE_HEADER, ""),
            deps.clock.now().timestamp(),
            deps.tolerance_seconds,
        ):
            log.warning("kie callback with a bad or stale signature job_id=%s", job_id[:64])
            return _answer(401, False)
        outcome = await deps.receive(
            job_id, token, task_id, status, raw.decode("utf-8", errors="replace")
        )
        if outcome is Received.FORGED:
            log.warning("kie callback with a wrong token job_id=%s", job_id[:64])
            return _answer(403, False)
        if outcome is Received.TASK_MISMATCH:
            return _answer(409, False)
        background = None
        if outcome is Received.STORED and deps.process is not None:
            background = BackgroundTask(_process_safely, deps.process, job_id)
        return _answer(200, True, background)

    return [kie_callback]
