"""Every endpoint and Kie.ai answer code, each in both places Kie.ai may put it (the HTTP
status or the envelope of an HTTP 200)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
import respx

from adapters.kie.errors import (
    KieInvalidInput,
    KieNotFound,
    KieTaskEnded,
    KieTransportError,
    KieUnavailable,
)
from core.domain.jobs import FailureKind
from core.ports.generation import GenerationAmbiguous, GenerationRejected, GenerationUnavailable

from .conftest import API, UPLOAD, envelope, make_client

CREATE = f"{API}/api/v1/jobs/createTask"
RECORD = f"{API}/api/v1/jobs/recordInfo"

NS, REJ, MAINT = FailureKind.NOT_SUBMITTED, FailureKind.REJECTED, FailureKind.MAINTENANCE

ERRORS = [
    (401, GenerationUnavailable, "bad API key", NS),
    (402, GenerationUnavailable, "no Kie.ai credits", NS),
    (422, GenerationRejected, "invalid input: prompt is required", REJ),
    (400, GenerationRejected, "invalid input", REJ),
    (429, GenerationUnavailable, "rate limited", NS),
    (433, GenerationUnavailable, "usage cap", NS),
    (455, GenerationUnavailable, "maintenance", MAINT),
    (500, GenerationUnavailable, "server error", NS),
    (501, GenerationRejected, "invalid input", REJ),
    (505, GenerationUnavailable, "feature disabled", NS),
]


def reply(code: int, msg: str, mirror: bool) -> httpx.Response:
    return httpx.Response(code if mirror else 200, json=envelope(code, None, msg))


@pytest.mark.parametrize("mirror", [False, True], ids=["body-code", "http-status"])
@pytest.mark.parametrize(("code", "error", "text", "kind"), ERRORS)
async def test_create_errors_map_to_port_errors(
    kie: respx.MockRouter, mirror: bool, code: int, error: type, text: str, kind: FailureKind
) -> None:
    route = kie.post(CREATE).mock(return_value=reply(code, "prompt is required", mirror))
    client = make_client(create_429_attempts=1)
    with pytest.raises(error) as caught:
        await client.create_task("z-image", {"prompt": "x"}, None)
    assert text in str(caught.value)  # the detail, for the log
    assert caught.value.kind is kind  # what the user is told
    # Only a refused input shows Kie.ai's own words to the user.
    assert caught.value.reason == ("prompt is required" if kind is REJ else None)
    assert route.call_count == 1  # createTask is never retried on an answer


async def test_create_sends_model_input_callback_and_bearer(kie: respx.MockRouter) -> None:
    route = kie.post(CREATE).mock(
        return_value=httpx.Response(200, json=envelope(data={"taskId": "t-1"}))
    )
    task = await make_client().create_task(
        "google/nano-banana", {"prompt": "a fox", "n": Decimal("0.5")}, "https://b/cb/j/tok"
    )
    assert task == "t-1"
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer test-key"
    assert json.loads(sent.content) == {
        "model": "google/nano-banana",
        "input": {"prompt": "a fox", "n": 0.5},
        "callBackUrl": "https://b/cb/j/tok",
    }


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("slow"), httpx.WriteTimeout("w"), httpx.RemoteProtocolError("x")]
)
async def test_create_timeout_is_ambiguous_and_not_retried(
    kie: respx.MockRouter, failure: Exception
) -> None:
    route = kie.post(CREATE).mock(side_effect=failure)
    with pytest.raises(GenerationAmbiguous):
        await make_client().create_task("z-image", {"prompt": "x"}, None)
    assert route.call_count == 1


async def test_create_gateway_error_without_envelope_is_ambiguous(kie: respx.MockRouter) -> None:
    kie.post(CREATE).mock(return_value=httpx.Response(504, text="<html>gateway</html>"))
    with pytest.raises(KieTransportError):
        await make_client().create_task("z-image", {"prompt": "x"}, None)


async def test_create_success_without_task_id_is_ambiguous(kie: respx.MockRouter) -> None:
    kie.post(CREATE).mock(return_value=httpx.Response(200, json=envelope(data={})))
    with pytest.raises(GenerationAmbiguous):
        await make_client().create_task("z-image", {"prompt": "x"}, None)


async def test_create_connect_error_is_a_sure_rejection(kie: respx.MockRouter) -> None:
    kie.post(CREATE).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(GenerationUnavailable):
        await make_client().create_task("z-image", {"prompt": "x"}, None)


async def test_create_429_is_queued_and_resent_because_nothing_was_created(
    kie: respx.MockRouter,
) -> None:
    waits: list[float] = []
    now = [0.0]

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    from adapters.kie.limiter import SlidingWindowLimiter

    limiter = SlidingWindowLimiter(20, 10.0, lambda: now[0], fake_sleep)
    route = kie.post(CREATE).mock(
        side_effect=[
            httpx.Response(200, json=envelope(429, None, "Rate limit exceeded")),
            httpx.Response(200, json=envelope(data={"taskId": "t-2"})),
        ]
    )
    assert await make_client(limiter=limiter).create_task("m", {}, None) == "t-2"
    assert route.call_count == 2
    assert waits == [10.0]


async def test_record_info_retries_transient_errors_then_succeeds(kie: respx.MockRouter) -> None:
    route = kie.get(RECORD).mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json=envelope(455, None, "maintenance")),
            httpx.Response(200, json=envelope(data={"taskId": "t", "state": "generating"})),
        ]
    )
    data = await make_client().record_info("t")
    assert data["state"] == "generating"
    assert route.call_count == 3
    assert route.calls.last.request.url.params["taskId"] == "t"


@pytest.mark.parametrize("mirror", [False, True])
async def test_record_info_does_not_retry_a_bad_key(kie: respx.MockRouter, mirror: bool) -> None:
    route = kie.get(RECORD).mock(return_value=reply(401, "Unauthorized", mirror))
    with pytest.raises(KieUnavailable, match="bad API key"):
        await make_client().record_info("t")
    assert route.call_count == 1


@pytest.mark.parametrize("mirror", [False, True])
async def test_record_info_not_found(kie: respx.MockRouter, mirror: bool) -> None:
    kie.get(RECORD).mock(return_value=reply(404, "Task not found", mirror))
    with pytest.raises(KieNotFound):
        await make_client().record_info("t")


@pytest.mark.parametrize("mirror", [False, True], ids=["body-code", "http-status"])
async def test_record_info_null_right_after_create_is_not_found_yet(
    kie: respx.MockRouter, mirror: bool
) -> None:
    route = kie.get(RECORD).mock(return_value=reply(422, "recordInfo is null", mirror))
    with pytest.raises(KieNotFound, match="recordInfo is null"):
        await make_client().record_info("t")
    assert route.call_count == 1  # an answer, not a transient failure: the caller polls again


@pytest.mark.parametrize("mirror", [False, True], ids=["body-code", "http-status"])
@pytest.mark.parametrize(
    ("code", "kind"), [(501, FailureKind.PROVIDER_ERROR), (408, FailureKind.TIMED_OUT)]
)
async def test_record_info_codes_that_end_the_task(
    kie: respx.MockRouter, mirror: bool, code: int, kind: FailureKind
) -> None:
    data = {"taskId": "t", "state": "fail", "failCode": None, "failMsg": "it broke"}
    route = kie.get(RECORD).mock(
        return_value=httpx.Response(
            code if mirror else 200, json=envelope(code, data, "Generation failed")
        )
    )
    with pytest.raises(KieTaskEnded) as caught:
        await make_client().record_info("t")
    assert (caught.value.code, caught.value.kind, caught.value.record) == (code, kind, data)
    assert "Generation failed" in str(caught.value)
    assert route.call_count == 1


async def test_message_key_may_be_message_instead_of_msg(kie: respx.MockRouter) -> None:
    kie.post(CREATE).mock(
        return_value=httpx.Response(200, json={"code": 422, "message": "bad aspect_ratio"})
    )
    with pytest.raises(KieInvalidInput, match="bad aspect_ratio"):
        await make_client().create_task("m", {}, None)


async def test_credits_parse_fractional_balance(kie: respx.MockRouter) -> None:
    kie.get(f"{API}/api/v1/chat/credit").mock(
        return_value=httpx.Response(200, json=envelope(data=104.5))
    )
    assert await make_client().credits() == Decimal("104.5")


@pytest.mark.parametrize("mirror", [False, True])
async def test_credits_bad_key(kie: respx.MockRouter, mirror: bool) -> None:
    kie.get(f"{API}/api/v1/chat/credit").mock(return_value=reply(401, "no access", mirror))
    with pytest.raises(GenerationUnavailable):
        await make_client().credits()


@pytest.mark.parametrize(
    "data",
    [
        {"fileName": "a.jpg", "downloadUrl": "https://tempfile.test/a.jpg"},
        {"fileUrl": "https://tempfile.test/a.jpg", "downloadUrl": "https://tempfile.test/a.jpg"},
    ],
    ids=["endpoint-page-shape", "quickstart-shape"],
)
async def test_upload_streams_multipart_and_returns_download_url(
    kie: respx.MockRouter, data: dict[str, str]
) -> None:
    route = kie.post(f"{UPLOAD}/api/file-stream-upload").mock(
        return_value=httpx.Response(200, json={"success": True, **envelope(data=data)})
    )
    url = await make_client().upload(b"\xff\xd8\xffjpeg", "a.jpg", "image/jpeg")
    assert url == "https://tempfile.test/a.jpg"
    request = route.calls.last.request
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b"\xff\xd8\xffjpeg" in request.content


async def test_upload_retries_server_errors(kie: respx.MockRouter) -> None:
    route = kie.post(f"{UPLOAD}/api/file-stream-upload").mock(
        side_effect=[
            httpx.Response(500, json=envelope(500, None, "try later")),
            httpx.Response(200, json=envelope(data={"downloadUrl": "https://t.test/f"})),
        ]
    )
    assert await make_client().upload(b"x", "f", "image/png") == "https://t.test/f"
    assert route.call_count == 2


@pytest.mark.parametrize("mirror", [False, True])
async def test_upload_bad_key_is_not_retried(kie: respx.MockRouter, mirror: bool) -> None:
    route = kie.post(f"{UPLOAD}/api/file-stream-upload").mock(
        return_value=reply(401, "unauthorized", mirror)
    )
    with pytest.raises(GenerationUnavailable):
        await make_client().upload(b"x", "f", "image/png")
    assert route.call_count == 1
