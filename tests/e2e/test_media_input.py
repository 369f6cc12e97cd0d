"""Media in: the wizard takes the user's files, fetches them through the bot, hosts them on
Kie.ai (respx) and puts only the Kie-hosted URL into createTask."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
import stamina

from core.domain.jobs import JobStatus
from tests.conftest import TOKEN, BotHarness
from tests.e2e.test_generation_flow import USER, last_markup_data, skip_options
from tests.fakes.updates import callback, message

API = "https://kie.e2e.test"
UPLOAD = "https://upload.e2e.test"
HOSTED = "https://tempfile.redpandaai.test/kiebot/photo.jpg"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 256
MB = 1024 * 1024


@pytest.fixture
def kie() -> Iterator[respx.MockRouter]:
    with (
        stamina.set_testing(True, attempts=2),
        respx.mock(assert_all_mocked=True, assert_all_called=False) as router,
    ):
        yield router


def real_harness(**extra: Any) -> BotHarness:
    return BotHarness(
        kie_mode="real",
        kie_api_key="test-key",
        kie_api_base=API,
        kie_upload_base=UPLOAD,
        webhook_base_url="https://bot.test",
        **extra,
    )


def photo(file_id: str, size: int | None = None) -> dict[str, Any]:
    update = message(USER, "")
    del update["message"]["text"]
    item: dict[str, Any] = {"file_id": file_id, "file_unique_id": file_id, "width": 9, "height": 9}
    if size is not None:
        item["file_size"] = size
    update["message"]["photo"] = [item]
    return update


def document(file_id: str, mime: str, size: int, name: str = "file.bin") -> dict[str, Any]:
    update = message(USER, "")
    del update["message"]["text"]
    update["message"]["document"] = {
        "file_id": file_id,
        "file_unique_id": file_id,
        "file_name": name,
        "mime_type": mime,
        "file_size": size,
    }
    return update


def mock_kie(kie: respx.MockRouter) -> tuple[respx.Route, respx.Route]:
    upload = kie.post(f"{UPLOAD}/api/file-stream-upload").mock(
        return_value=httpx.Response(
            200,
            json={"success": True, "code": 200, "msg": "ok", "data": {"downloadUrl": HOSTED}},
        )
    )
    create = kie.post(f"{API}/api/v1/jobs/createTask").mock(
        return_value=httpx.Response(200, json={"code": 200, "msg": "ok", "data": {"taskId": "t1"}})
    )
    return upload, create


async def open_model(harness: BotHarness, category: str, model: str) -> None:
    await harness.feed(message(USER, "/start"))
    await harness.feed(callback(USER, f"c:{category}"))
    await harness.feed(callback(USER, f"md:{model}"))


async def confirm_button(harness: BotHarness) -> str:
    await skip_options(harness)
    confirm = [d for d in last_markup_data(harness) if d.startswith("cf:")]
    assert len(confirm) == 1, harness.api.texts()[-3:]
    return confirm[0]


async def test_image_edit_photo_then_prompt_then_confirm_sends_the_hosted_url(
    kie: respx.MockRouter,
) -> None:
    harness = real_harness()
    upload, create = mock_kie(kie)
    harness.api.add_file("ph-1", JPEG)
    await open_model(harness, "image_edit", "nano-banana-edit")
    assert "Send a photo" in harness.api.texts()[-1]

    await harness.feed(photo("ph-1", len(JPEG)))
    assert "File received (1 of at most 5)" in harness.api.texts()[-1]
    assert "mi:done:0" in last_markup_data(harness)
    await harness.feed(callback(USER, "mi:done:0"))
    assert "Send a text prompt" in harness.api.texts()[-1]
    await harness.feed(message(USER, "make it snow"))
    confirm = await confirm_button(harness)
    assert "Images: 1 file(s)" in harness.api.texts()[-1]
    await harness.feed(callback(USER, confirm))
    await harness.run_jobs()  # the job runner's createTask

    assert upload.call_count == 1
    assert JPEG in upload.calls.last.request.content
    sent = json.loads(create.calls.last.request.content)
    assert sent["model"] == "google/nano-banana-edit"
    assert sent["input"]["image_urls"] == [HOSTED]
    assert sent["input"]["prompt"] == "make it snow"
    # The bot fetched the file itself; its token-bearing URL went nowhere else.
    assert len(harness.api.downloads) == 1
    assert TOKEN not in create.calls.last.request.content.decode()
    assert TOKEN not in upload.calls.last.request.content.decode(errors="replace")


async def test_upscale_without_prompt_goes_from_photo_to_confirm(kie: respx.MockRouter) -> None:
    harness = real_harness()
    _, create = mock_kie(kie)
    harness.api.add_file("ph-2", JPEG)
    await open_model(harness, "upscale", "recraft-crisp-upscale")
    await harness.feed(photo("ph-2"))  # no file_size: checked after the download
    assert "Check and confirm" in harness.api.texts()[-1]
    await harness.feed(callback(USER, await confirm_button(harness)))
    await harness.run_jobs()  # the job runner's createTask
    sent = json.loads(create.calls.last.request.content)
    assert sent["input"] == {"image": HOSTED}


async def test_wrong_media_type_is_refused_and_nothing_is_uploaded_or_held(
    kie: respx.MockRouter,
) -> None:
    harness = real_harness()
    upload, create = mock_kie(kie)
    harness.api.add_file("doc-1", b"%PDF-1.4")
    await open_model(harness, "upscale", "recraft-crisp-upscale")
    await harness.feed(document("doc-1", "application/pdf", 8, "scan.pdf"))
    assert harness.api.texts()[-1].startswith("This is not what the model needs")
    await harness.feed(message(USER, "here is some text"))
    assert harness.api.texts()[-1].startswith("Please send a photo")
    harness.api.add_file("gif-1", b"GIF89a" + b"\x00" * 16)
    await harness.feed(document("gif-1", "image/gif", 22, "a.gif"))
    assert "as JPEG, PNG, WEBP" in harness.api.texts()[-1]

    assert upload.call_count == 0
    assert create.call_count == 0
    assert harness.api.downloads == []
    assert harness.storage.jobs == {}
    assert (await harness.storage.balance(USER)).held == 0


async def test_a_fake_image_whose_bytes_are_not_an_image_is_refused(
    kie: respx.MockRouter,
) -> None:
    harness = real_harness()
    upload, _ = mock_kie(kie)
    harness.api.add_file("doc-2", b"<!DOCTYPE html><html>nope</html>")
    await open_model(harness, "upscale", "recraft-crisp-upscale")
    await harness.feed(document("doc-2", "image/png", 32, "x.png"))
    assert harness.api.texts()[-1].startswith("This is not what the model needs")
    assert upload.call_count == 0


async def test_oversized_files_are_refused_before_any_download(kie: respx.MockRouter) -> None:
    harness = real_harness()
    upload, _ = mock_kie(kie)
    await open_model(harness, "upscale", "recraft-crisp-upscale")
    await harness.feed(photo("big", 11 * MB))  # the model takes 10 MB
    assert harness.api.texts()[-1] == "The file is too large: 11.0 MB, at most 10 MB."

    await open_model(harness, "upscale", "topaz-video-upscale")
    video = document("vid", "video/mp4", 25 * MB, "v.mp4")
    await harness.feed(video)  # 20 MB is also what getFile can fetch on the public Bot API
    assert harness.api.texts()[-1] == "The file is too large: 25.0 MB, at most 20 MB."
    assert harness.api.downloads == []
    assert upload.call_count == 0


async def test_optional_media_is_skipped_with_its_button_in_stub_mode() -> None:
    harness = BotHarness()
    harness.api.add_file("first", JPEG)
    await open_model(harness, "video", "hailuo-02-i2v")
    assert "mi:skip:0" not in last_markup_data(harness)  # the first frame is required
    await harness.feed(photo("first", len(JPEG)))
    assert "mi:skip:1" in last_markup_data(harness)  # the last frame is optional
    await harness.feed(callback(USER, "mi:skip:0"))  # an old step's button does nothing
    await harness.feed(callback(USER, "mi:skip:1"))
    assert "Send a text prompt" in harness.api.texts()[-1]
    await harness.feed(message(USER, "waves"))
    await harness.feed(callback(USER, await confirm_button(harness)))
    job = next(iter(harness.storage.jobs.values()))
    assert set(job.params) >= {"image_url", "prompt"}
    assert "end_image_url" not in job.params


async def test_stub_mode_hosts_the_photo_in_process() -> None:
    harness = BotHarness()
    harness.api.add_file("ph-3", JPEG)
    await open_model(harness, "upscale", "recraft-crisp-upscale")
    await harness.feed(photo("ph-3", len(JPEG)))
    await harness.feed(callback(USER, await confirm_button(harness)))
    job = next(iter(harness.storage.jobs.values()))
    (url,) = job.params["image"]
    assert url.startswith("https://stub-uploads.invalid/")
    await harness.run_jobs()
    harness.clock.advance(seconds=5)
    assert (await harness.reconcile()).polled == 1
    assert await harness.run_jobs() == 1
    assert harness.storage.jobs[job.id].status is JobStatus.DELIVERED
