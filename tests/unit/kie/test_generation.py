"""KieGeneration: schema-built inputs, record parsing and the queueing create limiter."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from adapters.catalog.loader import load_catalog
from adapters.generation.kie import KieGeneration
from adapters.kie.limiter import SlidingWindowLimiter
from core.domain.catalog import MediaKind
from core.domain.jobs import FailureKind, JobStatus
from core.ports.generation import GenerationRejected, TaskRequest, TaskState

from .conftest import API, envelope, make_client
from .world import CREATE, World, created

CATALOG = load_catalog()


def record(**data: object) -> httpx.Response:
    return httpx.Response(200, json=envelope(data={"taskId": "t-1", **data}))


def adapter() -> KieGeneration:
    return KieGeneration(make_client(), CATALOG)


async def test_submit_builds_input_from_schema(kie: respx.MockRouter) -> None:
    route = kie.post(f"{API}/api/v1/jobs/createTask").mock(
        return_value=httpx.Response(200, json=envelope(data={"taskId": "t-9"}))
    )
    model = CATALOG.get("nano-banana")
    request = TaskRequest("job-1", model, {"prompt": "a fox"}, None)
    assert await adapter().submit(request) == "t-9"
    body = json.loads(route.calls.last.request.content)
    assert body["model"] == "google/nano-banana"
    assert body["input"] == {"prompt": "a fox", "output_format": "png", "image_size": "1:1"}
    assert "callBackUrl" not in body


async def test_submit_refuses_invalid_params_without_calling_kie(kie: respx.MockRouter) -> None:
    route = kie.post(f"{API}/api/v1/jobs/createTask")
    request = TaskRequest("job-1", CATALOG.get("z-image"), {"aspect_ratio": "7:1"}, None)
    with pytest.raises(GenerationRejected):
        await adapter().submit(request)
    assert not route.called


@pytest.mark.parametrize(
    ("data", "state"),
    [
        ({"state": "waiting"}, TaskState.PENDING),
        ({"state": "queuing"}, TaskState.PENDING),
        ({"state": "generating"}, TaskState.RUNNING),
    ],
)
async def test_status_in_progress(kie: respx.MockRouter, data: dict, state: TaskState) -> None:
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(return_value=record(**data))
    assert (await adapter().status("t-1")).state is state


async def test_status_success_parses_result_urls(kie: respx.MockRouter) -> None:
    result = json.dumps({"resultUrls": ["https://cdn.test/a.png", "https://cdn.test/b.mp4"]})
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(
        return_value=record(state="success", model="z-image", resultJson=result, failCode="")
    )
    status = await adapter().status("t-1")
    assert status.state is TaskState.SUCCEEDED
    assert [(f.kind, f.url) for f in status.files] == [
        (MediaKind.IMAGE, "https://cdn.test/a.png"),
        (MediaKind.VIDEO, "https://cdn.test/b.mp4"),
    ]


async def test_status_success_with_double_encoded_result_and_text_object(
    kie: respx.MockRouter,
) -> None:
    result = json.dumps(json.dumps({"resultObject": {"text": "hello"}}))
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(
        return_value=record(state="success", resultJson=result)
    )
    status = await adapter().status("t-1")
    assert status.files[0].kind is MediaKind.TEXT
    assert status.files[0].url.startswith("data:text/plain;base64,")


@pytest.mark.parametrize("fail_code", ["422", 422, None])
async def test_status_fail_carries_kie_message(kie: respx.MockRouter, fail_code: object) -> None:
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(
        return_value=record(state="fail", resultJson="", failCode=fail_code, failMsg="NSFW")
    )
    status = await adapter().status("t-1")
    assert status.state is TaskState.FAILED
    assert status.error is not None
    assert status.error.startswith("NSFW")


@pytest.mark.parametrize(
    ("fail_code", "message", "kind", "reason"),
    [
        (
            "422",
            "Prompt flagged as unsafe.  Try\nanother.",
            FailureKind.REJECTED,
            "Prompt flagged as unsafe. Try another",
        ),
        (400, "x" * 500, FailureKind.REJECTED, "x" * 199 + "…"),
        ("455", "Service unavailable: system maintenance", FailureKind.MAINTENANCE, None),
        ("500", "Internal error", FailureKind.PROVIDER_ERROR, None),
        (None, "generation failed", FailureKind.PROVIDER_ERROR, None),
    ],
)
async def test_a_failed_task_is_classified_for_the_user(
    kie: respx.MockRouter, fail_code: object, message: str, kind: FailureKind, reason: str | None
) -> None:
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(
        return_value=record(state="fail", failCode=fail_code, failMsg=message)
    )
    status = await adapter().status("t-1")
    assert (status.failure, status.reason) == (kind, reason)
    assert (status.error or "").startswith(message[:20])  # the detail, for the log


async def test_invalid_params_at_submit_are_a_rejected_input_with_the_reason(
    kie: respx.MockRouter,
) -> None:
    request = TaskRequest("job-1", CATALOG.get("z-image"), {"aspect_ratio": "7:1"}, None)
    with pytest.raises(GenerationRejected) as caught:
        await adapter().submit(request)
    assert caught.value.kind is FailureKind.REJECTED
    assert caught.value.reason == "prompt: is required"


async def test_status_of_a_task_not_visible_yet_is_pending(kie: respx.MockRouter) -> None:
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(
        return_value=httpx.Response(200, json=envelope(404, None, "Task not found"))
    )
    assert (await adapter().status("t-1")).state is TaskState.PENDING


@pytest.mark.parametrize("mirror", [False, True], ids=["body-code", "http-status"])
async def test_a_record_not_there_yet_is_pending_until_it_appears(
    kie: respx.MockRouter, mirror: bool
) -> None:
    null = httpx.Response(422 if mirror else 200, json=envelope(422, None, "recordInfo is null"))
    result = json.dumps({"resultUrls": ["https://cdn.test/a.png"]})
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(
        side_effect=[null, null, record(state="success", model="z-image", resultJson=result)]
    )
    gen = adapter()
    states = [(await gen.status("t-1")).state for _ in range(3)]
    assert states == [TaskState.PENDING, TaskState.PENDING, TaskState.SUCCEEDED]


def ended(code: int, data: object = None, mirror: bool = False) -> httpx.Response:
    return httpx.Response(code if mirror else 200, json=envelope(code, data, "Generation failed"))


@pytest.mark.parametrize("mirror", [False, True], ids=["body-code", "http-status"])
@pytest.mark.parametrize(
    ("code", "kind"), [(501, FailureKind.PROVIDER_ERROR), (408, FailureKind.TIMED_OUT)]
)
async def test_record_codes_501_and_408_end_the_task(
    kie: respx.MockRouter, mirror: bool, code: int, kind: FailureKind
) -> None:
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(return_value=ended(code, mirror=mirror))
    status = await adapter().status("t-1")
    assert (status.state, status.failure, status.reason) == (TaskState.FAILED, kind, None)
    assert status.error == f"Generation failed ({code})"  # the detail, for the log


@pytest.mark.parametrize(
    ("code", "data", "state", "kind", "reason"),
    [
        (
            501,
            {"taskId": "t-1", "state": "fail", "failCode": "500", "failMsg": "Internal error"},
            TaskState.FAILED,
            FailureKind.PROVIDER_ERROR,
            None,
        ),
        (
            408,
            {"taskId": "t-1", "state": "fail", "failCode": None, "failMsg": "took too long"},
            TaskState.FAILED,
            FailureKind.TIMED_OUT,
            None,
        ),
        (
            501,
            {"taskId": "t-1", "state": "fail", "failCode": "400", "failMsg": "Prompt flagged"},
            TaskState.FAILED,
            FailureKind.REJECTED,
            "Prompt flagged",
        ),
        (
            501,
            {"taskId": "t-1", "state": "generating"},
            TaskState.RUNNING,
            FailureKind.PROVIDER_ERROR,
            None,
        ),
        (
            501,
            {"taskId": "other", "state": "fail", "failCode": "500"},
            TaskState.PENDING,
            FailureKind.PROVIDER_ERROR,
            None,
        ),
    ],
    ids=["failed", "timed-out", "refused-input", "still-generating", "another-task"],
)
async def test_the_record_carried_by_an_ending_code_names_the_state_and_cause(
    kie: respx.MockRouter,
    code: int,
    data: dict[str, object],
    state: TaskState,
    kind: FailureKind,
    reason: str | None,
) -> None:
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(return_value=ended(code, data))
    status = await adapter().status("t-1")
    assert (status.state, status.failure, status.reason) == (state, kind, reason)


async def test_polling_waits_through_a_missing_record_then_releases_on_501(
    kie: respx.MockRouter,
) -> None:
    world = World()
    kie.post(CREATE).mock(return_value=created("t-1"))
    job = await world.job()
    assert await world.runner.run_once() == 1
    _, price = await world.balance()
    assert price > 0
    records = kie.get(f"{API}/api/v1/jobs/recordInfo").mock(
        return_value=httpx.Response(200, json=envelope(422, None, "recordInfo is null"))
    )
    for _ in range(3):
        world.clock.advance(seconds=5)
        await world.reconcile.run_once()
    assert records.call_count == 3
    waiting = await world.storage.get_job(job.id)
    assert waiting is not None
    assert waiting.status is JobStatus.SUBMITTED  # not a failure: still waiting
    assert world.chat.failed == []
    assert await world.balance() == (10_000, price)

    records.mock(return_value=ended(501))
    world.clock.advance(seconds=5)
    await world.reconcile.run_once()
    failed = await world.storage.get_job(job.id)
    assert failed is not None
    assert (failed.status, failed.failure) == (JobStatus.FAILED, FailureKind.PROVIDER_ERROR)
    assert world.chat.failed == [(job.id, FailureKind.PROVIDER_ERROR, None)]
    assert await world.balance() == (10_000, 0)  # the hold is released


async def test_status_for_another_task_id_is_not_trusted(kie: respx.MockRouter) -> None:
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(
        return_value=httpx.Response(
            200,
            json=envelope(
                data={"taskId": "other", "state": "success", "resultJson": '{"resultUrls":[]}'}
            ),
        )
    )
    assert (await adapter().status("t-1")).state is TaskState.PENDING


async def test_limiter_queues_the_21st_create_until_the_window_moves() -> None:
    now = [0.0]
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = SlidingWindowLimiter(20, 10.0, lambda: now[0], fake_sleep)
    for _ in range(20):
        await limiter.acquire()
    assert waits == []
    now[0] = 4.0
    await asyncio.gather(limiter.acquire(), limiter.acquire())
    assert waits == [6.0]  # both waited for the oldest slots, then went through
    assert now[0] == 10.0
