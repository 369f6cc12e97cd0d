"""The Litestar app: webhook ingest into the inbox, /health and /metrics.

Built before aiogram is imported, so the port answers within a second of process start; the
ingest use case is plugged into ``Ingest`` once the database is up (until then the webhook
answers 503, which Telegram retries).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from typing import Any

import attrs
from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters.http.health import HealthState
from adapters.http.metrics import UPDATES_REJECTED
from adapters.http.updates import BadUpdate, chat_key, parse_update
from core.usecases.ingest import IngestUpdate

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Telegram updates are a few KiB; anything near this is not one.
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)


@attrs.define
class Ingest:
    """What the webhook route needs; ``store`` is None until the database is ready.

    The route exists from the moment the port is bound, answering 503 (Telegram retries)
    until the runtime is known; a runtime that takes no webhook sets ``served`` False (404).
    """

    path_secret: str = ""
    secret_token: str = ""
    store: IngestUpdate | None = None
    draining: bool = False
    served: bool = True

    @property
    def ready(self) -> bool:
        return self.store is not None and not self.draining and bool(self.secret_token)


def _empty(status: int) -> Response[bytes]:
    return Response(b"", status_code=status, media_type="text/plain")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def webhook_route(ingest: Ingest) -> ControllerRouterHandler:
    @post("/webhook/{path_secret:str}", request_max_body_size=MAX_BODY)
    async def webhook(
        request: Request[Any, Any, Any], path_secret: FromPath[str]
    ) -> Response[bytes]:
        if not ingest.served:
            return _empty(404)
        if not ingest.ready:
            UPDATES_REJECTED.labels("not_ready").inc()
            return _empty(503)  # starting or draining: Telegram retries later
        if not _same(path_secret, ingest.path_secret):
            UPDATES_REJECTED.labels("path").inc()
            return _empty(404)
        token = request.headers.get(SECRET_HEADER)
        if token is None:
            UPDATES_REJECTED.labels("no_secret").inc()
            return _empty(401)
        if not _same(token, ingest.secret_token):
            UPDATES_REJECTED.labels("bad_secret").inc()
            return _empty(403)
        try:
            update = parse_update(await request.body())
        except BadUpdate as exc:
            UPDATES_REJECTED.labels("malformed").inc()
            log.warning("[WEBHOOK] rejected update: %s", exc)
            return _empty(400)
        assert ingest.store is not None
        # A repeated delivery gets 200 too: it is already stored, so Telegram can stop resending.
        await ingest.store(update["update_id"], update, chat_key(update), "webhook")
        return _empty(200)

    return webhook


def health_routes(health: HealthState) -> list[ControllerRouterHandler]:
    @get("/health")
    async def health_check() -> dict[str, Any]:
        return health.snapshot()

    @get("/metrics")
    async def metrics() -> Response[bytes]:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [health_check, metrics]


def build_app(
    health: HealthState,
    ingest: Ingest | None = None,
    extra: Sequence[ControllerRouterHandler] = (),
) -> Litestar:
    """``ingest`` None serves no webhook route (polling mode)."""
    routes = [*health_routes(health), *extra]
    if ingest is not None:
        routes.append(webhook_route(ingest))
    return Litestar(route_handlers=routes, openapi_config=None, logging_config=None)
