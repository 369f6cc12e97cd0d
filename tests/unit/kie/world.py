"""The callback and polling paths wired for real, with respx standing in for Kie.ai."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.catalog.loader import load_catalog
from adapters.generation.kie import KieGeneration
from adapters.memory.kie_callbacks import InMemoryCallbackStore
from adapters.memory.storage import InMemoryStorage
from adapters.system import ManualClock
from core.domain.jobs import Job
from core.domain.ledger import EntryKind, LedgerEntry
from tests.conftest import ClockSleep, make_settings
from tests.fakes.chat import RecordingChat
from tests.fakes.containers import use_case_container

from .conftest import API, envelope, make_client

CDN = "https://tempfile.aiquickdraw.test"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HMAC_KEY = "kie-hmac-test-key"
USER = 7


def success_body(task_id: str, url: str = f"{CDN}/r.png") -> dict[str, Any]:
    return {
        "code": 200,
        "msg": "Playground task completed successfully.",
        "data": {
            "taskId": task_id,
            "model": "z-image",
            "state": "success",
            "resultJson": json.dumps({"resultUrls": [url]}),
            "failCode": None,
            "failMsg": None,
            "creditsConsumed": 0.8,
        },
    }


def fail_body(task_id: str) -> dict[str, Any]:
    data = {"taskId": task_id, "state": "fail", "failCode": "500", "failMsg": "Internal error"}
    return {"code": 501, "msg": "Playground task failed.", "data": data}


def running_body(task_id: str) -> dict[str, Any]:
    return {"code": 200, "msg": "ok", "data": {"taskId": task_id, "state": "generating"}}


def sign(task_id: str, timestamp: int, key: str = HMAC_KEY) -> dict[str, str]:
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return {
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": base64.b64encode(digest).decode(),
    }


class World:
    """The callback and polling paths as the production container wires them, on in-memory
    adapters, with Kie.ai's HTTP answers from respx."""

    def __init__(self, hmac_key: str | None = None) -> None:
        self.clock = ManualClock()
        self.chat = RecordingChat()
        self.sleep = ClockSleep(self.clock)
        self.catalog = load_catalog()
        container = use_case_container(
            make_settings(webhook_base_url="https://bot.test", kie_webhook_hmac_key=hmac_key),
            clock=self.clock,
            sleep=self.sleep,
            chat=self.chat,
            generation=KieGeneration(make_client(), self.catalog),
        )
        container.adapters.catalog.override(providers.Object(self.catalog))
        usecases = container.usecases
        self.storage: InMemoryStorage = container.adapters.storage()
        self.callbacks: InMemoryCallbackStore = container.adapters.kie_callbacks()
        self.generation = container.adapters.generation()
        self.doorbell = usecases.doorbell()
        self.fail = usecases.fail()
        self.deliver = usecases.deliver()
        self.apply = usecases.apply()
        self.process = usecases.process_callbacks()
        self.submit = usecases.submit()
        self.runner = usecases.runner()
        self.receive = usecases.receive_callback()
        self.reconcile = usecases.reconcile()
        self.confirm = usecases.confirm()
        self.app = Litestar(route_handlers=container.callback_routes())

    async def job(self) -> Job:
        await self.storage.post(LedgerEntry("w", USER, EntryKind.BONUS, amount=10_000))
        confirmation = await self.confirm(
            confirm_key="k1",
            user_id=USER,
            chat_id=USER,
            lang="en",
            model_id="z-image",
            params={"prompt": "a fox"},
        )
        return confirmation.job

    async def post(
        self, job: Job, body: Any, token: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """The callback, then whatever the job runner does next (delivering a success)."""
        async with AsyncTestClient(self.app) as client:
            response = await client.post(
                f"/kie/callback/{job.id}/{token or job.callback_token}",
                content=body if isinstance(body, bytes) else json.dumps(body).encode(),
                headers={"Content-Type": "application/json", **(headers or {})},
            )
        await self.runner.run_once()
        return response

    async def balance(self) -> tuple[int, int]:
        balance = await self.storage.balance(USER)
        return balance.total, balance.held


def created(task_id: str) -> httpx.Response:
    return httpx.Response(200, json=envelope(data={"taskId": task_id}))


def record(task_id: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"code": 200, "msg": "success", "data": body["data"]})


RECORD = f"{API}/api/v1/jobs/recordInfo"
CREATE = f"{API}/api/v1/jobs/createTask"
