"""KieGeneration: schema-built inputs, record parsing and the queueing create limiter."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from adapters.catalog.loader import load_catalog
from adapters.kie.generation import KieGeneration
from adapters.kie.limiter import SlidingWindowLimiter
from core.domain.catalog import MediaKind
from core.ports.generation import GenerationRejected, TaskRequest, TaskState

from .conftest import API, envelope, make_client

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


async def test_status_of_a_task_not_visible_yet_is_pending(kie: respx.MockRouter) -> None:
    kie.get(f"{API}/api/v1/jobs/recordInfo").mock(
        return_value=httpx.Response(200, json=envelope(404, None, "Task not found"))
    )
    assert (await adapter().status("t-1")).state is TaskState.PENDING


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
