"""The callback and polling paths wired for real, with respx standing in for Kie.ai."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.catalog.loader import load_catalog
from adapters.http.kie_callback import KieCallbackDeps, kie_callback_routes
from adapters.kie.generation import KieGeneration
from adapters.media.downloader import HttpxDownloader
from adapters.memory.kie_callbacks import InMemoryCallbackStore
from adapters.memory.storage import InMemoryStorage
from adapters.system import ManualClock, RandomIds
from core.domain.jobs import Job
from core.domain.ledger import EntryKind, LedgerEntry
from core.domain.money import Pricing
from core.usecases.callbacks import ProcessCallbacks, ReceiveCallback
from core.usecases.generation import (
    ApplyTaskStatus,
    ConfirmGeneration,
    DeliverResult,
    FailJob,
    SubmitJob,
)
from core.usecases.reconcile import ReconcileJobs
from core.usecases.runner import Doorbell, JobRunner
from tests.conftest import ClockSleep
from tests.fakes.chat import RecordingChat

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
    def __init__(self, hmac_key: str | None = None) -> None:
        self.clock = ManualClock()
        self.storage = InMemoryStorage()
        self.chat = RecordingChat()
        self.callbacks = InMemoryCallbackStore()
        self.catalog = load_catalog()
        self.generation = KieGeneration(make_client(), self.catalog)
        self.sleep = ClockSleep(self.clock)
        self.doorbell = Doorbell()
        self.fail = FailJob(self.storage, self.chat, self.clock)
        self.deliver = DeliverResult(
            self.storage,
            HttpxDownloader(httpx.AsyncClient()),
            self.chat,
            self.clock,
            self.fail,
            max_attempts=3,
            sleep=self.sleep,
        )
        self.apply = ApplyTaskStatus(
            self.storage, self.clock, self.fail, on_succeeded=self.doorbell.ring
        )
        self.process = ProcessCallbacks(
            self.storage, self.callbacks, self.generation, self.apply, self.clock
        )
        self.submit = SubmitJob(
            self.storage,
            self.generation,
            self.catalog,
            self.clock,
            self.fail,
            self.chat,
            callback_base="https://bot.test",
            on_submitted=self.process,
        )
        self.runner = JobRunner(self.storage, self.submit, self.deliver, self.clock, self.doorbell)
        self.receive = ReceiveCallback(self.storage, self.callbacks, self.clock)
        self.reconcile = ReconcileJobs(
            self.storage,
            self.generation,
            self.clock,
            self.submit,
            self.apply,
            self.fail,
            callbacks=self.callbacks,
            process_callbacks=self.process,
            catalog=self.catalog,
        )
        self.confirm = ConfirmGeneration(
            self.storage, self.catalog, Pricing(), self.clock, RandomIds()
        )
        deps = KieCallbackDeps(self.clock, self.catalog, self.receive, self.process, hmac_key)
        self.app = Litestar(route_handlers=kie_callback_routes(deps))

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
