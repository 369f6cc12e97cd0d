"""The bot with the real Kie.ai adapter (respx at its HTTP edge) and the callback route."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx
import stamina
from aiogram.methods import SendPhoto
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.http.kie_callback import KieCallbackDeps, kie_callback_routes
from core.domain.jobs import JobStatus
from core.domain.ledger import EntryKind
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import USER, open_confirmation
from tests.fakes.updates import callback

API = "https://kie.e2e.test"
CDN = "https://tempfile.aiquickdraw.test"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 128


@pytest.fixture
def kie() -> Iterator[respx.MockRouter]:
    with stamina.set_testing(True, attempts=2), respx.mock(assert_all_mocked=True) as router:
        yield router


def real_harness() -> BotHarness:
    return BotHarness(
        kie_mode="real",
        kie_api_key="test-key",
        kie_api_base=API,
        webhook_base_url="https://bot.test",
    )


async def post_callback(harness: BotHarness, body: dict) -> httpx.Response:
    usecases = harness.container.usecases
    generation = harness.container.adapters.generation()
    deps = KieCallbackDeps(
        harness.clock,
        generation.output_of,
        usecases.receive_callback(),
        usecases.process_callbacks(),
    )
    job = next(iter(harness.storage.jobs.values()))
    async with AsyncTestClient(Litestar(route_handlers=kie_callback_routes(deps))) as client:
        return await client.post(
            f"/kie/callback/{job.id}/{job.callback_token}", content=json.dumps(body)
        )


async def test_confirm_create_callback_download_deliver_capture(kie: respx.MockRouter) -> None:
    harness = real_harness()
    create = kie.post(f"{API}/api/v1/jobs/createTask").mock(
        return_value=httpx.Response(200, json={"code": 200, "msg": "ok", "data": {"taskId": "t1"}})
    )
    kie.get(f"{CDN}/out.png").mock(
        return_value=httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})
    )
    confirm = await open_confirmation(harness, "a red fox in the snow")
    await harness.feed(callback(USER, confirm))

    job = next(iter(harness.storage.jobs.values()))
    sent = json.loads(create.calls.last.request.content)
    assert sent["model"] == "z-image"
    assert sent["input"] == {"prompt": "a red fox in the snow", "aspect_ratio": "1:1"}
    assert sent["callBackUrl"] == f"https://bot.test/kie/callback/{job.id}/{job.callback_token}"
    assert (await harness.storage.balance(USER)).held == 76

    body = {
        "code": 200,
        "msg": "Playground task completed successfully.",
        "data": {
            "taskId": "t1",
            "model": "z-image",
            "state": "success",
            "resultJson": json.dumps({"resultUrls": [f"{CDN}/out.png"]}),
        },
    }
    response = await post_callback(harness, body)

    assert response.status_code == 200
    photos = harness.api.sent(SendPhoto)
    assert len(photos) == 1
    assert photos[0].photo.data == PNG
    assert harness.storage.jobs[job.id].status is JobStatus.DELIVERED
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000 - 76, 0)
    assert [e.kind for e in harness.storage.ledger].count(EntryKind.CAPTURE) == 1


async def test_confirm_create_failure_callback_refunds(kie: respx.MockRouter) -> None:
    harness = real_harness()
    kie.post(f"{API}/api/v1/jobs/createTask").mock(
        return_value=httpx.Response(200, json={"code": 200, "msg": "ok", "data": {"taskId": "t2"}})
    )
    confirm = await open_confirmation(harness, "a boat")
    await harness.feed(callback(USER, confirm))
    body = {
        "code": 501,
        "msg": "Playground task failed.",
        "data": {"taskId": "t2", "state": "fail", "failCode": "422", "failMsg": "prohibited"},
    }
    assert (await post_callback(harness, body)).status_code == 200

    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000, 0)
    assert harness.api.sent(SendPhoto) == []
    assert "prohibited" in harness.api.texts()[-1]


async def test_kie_rejection_at_create_refunds_at_once(kie: respx.MockRouter) -> None:
    harness = real_harness()
    kie.post(f"{API}/api/v1/jobs/createTask").mock(
        return_value=httpx.Response(200, json={"code": 402, "msg": "Credits insufficient"})
    )
    confirm = await open_confirmation(harness, "a boat")
    await harness.feed(callback(USER, confirm))
    job = next(iter(harness.storage.jobs.values()))
    assert harness.storage.jobs[job.id].status is JobStatus.FAILED
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000, 0)


async def test_credits_command_is_admin_only_and_shows_the_kie_balance(
    kie: respx.MockRouter,
) -> None:
    from tests.fakes.updates import message

    harness = BotHarness(kie_mode="real", kie_api_key="k", kie_api_base=API, admin_ids=str(USER))
    kie.get(f"{API}/api/v1/chat/credit").mock(
        return_value=httpx.Response(200, json={"code": 200, "msg": "ok", "data": 104.5})
    )
    await harness.feed(message(USER, "/credits"))
    await harness.feed(message(USER + 1, "/credits"))
    texts = harness.api.texts()
    assert "Kie.ai balance: 104.5 credits" in texts
    assert not any("104.5" in t for t in texts[texts.index("Kie.ai balance: 104.5 credits") + 1 :])


async def test_credits_command_in_stub_mode_says_there_is_no_account() -> None:
    from tests.fakes.updates import message

    harness = BotHarness(admin_ids=str(USER))
    await harness.feed(message(USER, "/credits"))
    assert harness.api.texts()[-1] == "No Kie.ai account in this mode (stub)."
