"""The bot with the real Kie.ai adapter (respx at its HTTP edge) and the callback route."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
import stamina
from aiogram.methods import SendPhoto
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.http.kie_callback import KieCallbackDeps, kie_callback_routes
from core.domain.jobs import FailureKind, JobStatus
from core.domain.ledger import EntryKind
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import USER, last_markup_data, open_confirmation
from tests.fakes.updates import callback

API = "https://kie.e2e.test"
CDN = "https://tempfile.aiquickdraw.test"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 128


@pytest.fixture
def kie() -> Iterator[respx.MockRouter]:
    with stamina.set_testing(True, attempts=2), respx.mock(assert_all_mocked=True) as router:
        yield router


def real_harness(**extra: Any) -> BotHarness:
    settings: dict[str, Any] = {
        "kie_mode": "real",
        "kie_api_key": "test-key",
        "kie_api_base": API,
        "webhook_base_url": "https://bot.test",
    }
    settings.update(extra)
    return BotHarness(**settings)


async def post_callback(harness: BotHarness, body: dict, run_jobs: bool = True) -> httpx.Response:
    """Kie.ai's callback through the real route; then, like the woken job runner, whatever
    became due (delivering a success)."""
    usecases = harness.container.usecases
    deps = KieCallbackDeps(
        harness.clock,
        harness.container.adapters.catalog(),
        usecases.receive_callback(),
        usecases.process_callbacks(),
    )
    job = next(iter(harness.storage.jobs.values()))
    async with AsyncTestClient(Litestar(route_handlers=kie_callback_routes(deps))) as client:
        response = await client.post(
            f"/kie/callback/{job.id}/{job.callback_token}", content=json.dumps(body)
        )
    if run_jobs:
        await harness.run_jobs()
    return response


def created(task_id: str) -> httpx.Response:
    return httpx.Response(200, json={"code": 200, "msg": "ok", "data": {"taskId": task_id}})


def success(task_id: str, url: str = f"{CDN}/out.png") -> dict[str, Any]:
    return {
        "code": 200,
        "msg": "Playground task completed successfully.",
        "data": {
            "taskId": task_id,
            "model": "z-image",
            "state": "success",
            "resultJson": json.dumps({"resultUrls": [url]}),
        },
    }


async def confirm_and_run(harness: BotHarness, prompt: str = "a boat") -> str:
    """Tap confirm (the handler returns at once), then the runner's createTask."""
    await harness.feed(callback(USER, await open_confirmation(harness, prompt)))
    await harness.run_jobs()
    return next(iter(harness.storage.jobs))


async def test_confirm_create_callback_download_deliver_capture(kie: respx.MockRouter) -> None:
    harness = real_harness()
    create = kie.post(f"{API}/api/v1/jobs/createTask").mock(return_value=created("t1"))
    kie.get(f"{CDN}/out.png").mock(
        return_value=httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})
    )
    confirm = await open_confirmation(harness, "a red fox in the snow")
    await harness.feed(callback(USER, confirm))
    assert create.call_count == 0  # not from the update handler
    await harness.run_jobs()

    job = next(iter(harness.storage.jobs.values()))
    sent = json.loads(create.calls.last.request.content)
    assert sent["model"] == "z-image"
    assert sent["input"] == {"prompt": "a red fox in the snow", "aspect_ratio": "1:1"}
    assert sent["callBackUrl"] == f"https://bot.test/kie/callback/{job.id}/{job.callback_token}"
    assert (await harness.storage.balance(USER)).held == 76

    response = await post_callback(harness, success("t1"))

    assert response.status_code == 200
    photos = harness.api.sent(SendPhoto)
    assert len(photos) == 1
    assert photos[0].photo.data == PNG
    assert harness.storage.jobs[job.id].status is JobStatus.DELIVERED
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000 - 76, 0)
    assert [e.kind for e in harness.storage.ledger].count(EntryKind.CAPTURE) == 1


async def test_success_is_captured_only_after_the_result_was_sent(kie: respx.MockRouter) -> None:
    harness = real_harness()
    kie.post(f"{API}/api/v1/jobs/createTask").mock(return_value=created("t1"))
    kie.get(f"{CDN}/out.png").mock(
        return_value=httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})
    )
    job_id = await confirm_and_run(harness)
    at_send: list[tuple[int, int]] = []
    make_request = harness.api.make_request

    async def watching(bot: Any, method: Any, timeout: int | None = None) -> Any:
        if isinstance(method, SendPhoto):
            balance = await harness.storage.balance(USER)
            at_send.append((balance.total, balance.held))
        return await make_request(bot, method, timeout)

    harness.api.make_request = watching  # type: ignore[method-assign]

    assert (await post_callback(harness, success("t1"), run_jobs=False)).status_code == 200
    assert harness.storage.jobs[job_id].status is JobStatus.SUCCEEDED  # reported, not sent
    assert [e.kind for e in harness.storage.ledger].count(EntryKind.CAPTURE) == 0

    await harness.run_jobs()

    assert at_send == [(10_000, 76)]  # while sending, the price was still only held
    assert harness.storage.jobs[job_id].status is JobStatus.DELIVERED
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000 - 76, 0)
    assert [e.kind for e in harness.storage.ledger][-1] is EntryKind.CAPTURE


async def test_confirm_create_failure_callback_refunds(kie: respx.MockRouter) -> None:
    harness = real_harness()
    kie.post(f"{API}/api/v1/jobs/createTask").mock(return_value=created("t2"))
    await confirm_and_run(harness)
    body = {
        "code": 501,
        "msg": "Playground task failed.",
        "data": {"taskId": "t2", "state": "fail", "failCode": "422", "failMsg": "prohibited"},
    }
    assert (await post_callback(harness, body)).status_code == 200

    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000, 0)
    assert harness.api.sent(SendPhoto) == []
    assert harness.api.texts()[-1] == (
        "❌ Z-Image: Kie.ai refused the request: prohibited. 0.76 RUB returned to your balance."
    )


async def test_kie_rejection_at_create_refunds_at_once(kie: respx.MockRouter) -> None:
    harness = real_harness()
    kie.post(f"{API}/api/v1/jobs/createTask").mock(
        return_value=httpx.Response(200, json={"code": 402, "msg": "Credits insufficient"})
    )
    job_id = await confirm_and_run(harness)
    job = harness.storage.jobs[job_id]
    assert (job.status, job.failure) == (JobStatus.FAILED, FailureKind.NOT_SUBMITTED)
    assert "Credits insufficient" in (job.error or "")
    assert harness.api.texts()[-1] == (
        "❌ Z-Image: Kie.ai could not take the task right now, please try again later."
        " 0.76 RUB returned to your balance."
    )
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000, 0)


async def test_kie_maintenance_is_one_plain_sentence_with_a_menu_button(
    kie: respx.MockRouter,
) -> None:
    harness = real_harness()
    kie.post(f"{API}/api/v1/jobs/createTask").mock(
        return_value=httpx.Response(
            200, json={"code": 455, "msg": "Service unavailable: system maintenance"}
        )
    )
    job_id = await confirm_and_run(harness)

    text = harness.api.texts()[-1]
    assert text == (
        "❌ Z-Image: Kie.ai is down for maintenance, please try again later."
        " 0.76 RUB returned to your balance."
    )
    assert "455" not in text
    assert last_markup_data(harness) == ["m:home"]
    assert "455" in (harness.storage.jobs[job_id].error or "")  # kept for the log
    assert harness.storage.jobs[job_id].failure is FailureKind.MAINTENANCE


async def test_a_502_at_create_says_checking_at_once_and_refunds_after_minutes(
    kie: respx.MockRouter,
) -> None:
    harness = real_harness(webhook_base_url=None)  # polling without callbacks: nothing else can
    create = kie.post(f"{API}/api/v1/jobs/createTask").mock(
        return_value=httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>")
    )
    job_id = await confirm_and_run(harness)

    assert harness.api.texts()[-1] == (
        "⏳ Z-Image: Kie.ai did not answer in time; checking whether the generation started"
        " (a few minutes at most)."
    )
    job = harness.storage.jobs[job_id]
    assert (job.status, job.submit_ambiguous_at) == (JobStatus.SUBMITTING, harness.clock.now())
    assert (await harness.storage.balance(USER)).held == 76

    harness.clock.advance(minutes=2)
    await harness.reconcile()
    assert harness.storage.jobs[job_id].status is JobStatus.SUBMITTING

    harness.clock.advance(minutes=1, seconds=1)
    assert (await harness.reconcile()).unconfirmed == 1

    assert create.call_count == 1  # never sent twice
    job = harness.storage.jobs[job_id]
    assert (job.status, job.failure) == (JobStatus.FAILED, FailureKind.UNCONFIRMED)
    assert harness.api.texts()[-1] == (
        "❌ Z-Image: Kie.ai never confirmed the task, so it was stopped."
        " 0.76 RUB returned to your balance."
    )
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000, 0)


async def test_a_slow_create_task_does_not_hold_up_the_next_tap(kie: respx.MockRouter) -> None:
    harness = real_harness()
    reached = asyncio.Event()
    answer = asyncio.Event()

    async def slow_create(request: httpx.Request) -> httpx.Response:
        reached.set()
        await answer.wait()  # Kie.ai taking its time
        return created("t-slow")

    create = kie.post(f"{API}/api/v1/jobs/createTask").mock(side_effect=slow_create)
    confirm = await open_confirmation(harness, "a boat")

    await harness.feed(callback(USER, confirm))
    assert create.call_count == 0  # the handler returned before createTask was called

    runner = asyncio.create_task(harness.run_jobs())
    await asyncio.wait_for(reached.wait(), 5)  # createTask is now in flight…
    await harness.feed(callback(USER, "m:balance"))  # …and the same chat's next tap is served
    assert harness.api.texts()[-1].startswith("Balance: 99.24 RUB")
    assert not runner.done()

    answer.set()
    await asyncio.wait_for(runner, 5)
    assert next(iter(harness.storage.jobs.values())).status is JobStatus.SUBMITTED


async def test_a_callback_for_another_task_is_answered_409(kie: respx.MockRouter) -> None:
    harness = real_harness()
    kie.post(f"{API}/api/v1/jobs/createTask").mock(return_value=created("t1"))
    job_id = await confirm_and_run(harness)

    response = await post_callback(harness, success("not-this-jobs-task"))

    assert response.status_code == 409
    assert harness.storage.jobs[job_id].status is JobStatus.SUBMITTED
    assert harness.api.sent(SendPhoto) == []
    assert (await harness.storage.balance(USER)).held == 76


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


async def test_the_admin_panel_is_only_for_admins() -> None:
    from tests.fakes.updates import message

    harness = BotHarness(admin_ids=str(USER))
    await harness.feed(message(USER, "/admin"))
    panel = harness.api.texts()[-1]
    assert panel.startswith("🛠 Operator panel")
    assert "No Kie.ai account in this mode (stub)." in panel
    await harness.feed(message(USER + 1, "/admin", lang="ru"))
    assert harness.api.texts()[-1] == "Я не понял. Вот меню."
