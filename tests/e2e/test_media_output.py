"""Media out: media groups, links above Telegram's upload limit, and a bounded end — with the
money returned — for results that cannot be downloaded (respx serves the result files,
FakeBotApi records the sends)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
import stamina
from aiogram.methods import SendAudio, SendDocument, SendMediaGroup, SendMessage, SendPhoto

from adapters.media.downloader import HttpxDownloader
from core.domain.jobs import FailureKind, JobStatus
from core.ports.media import TooLarge
from tests.conftest import BotHarness
from tests.e2e.test_generation_flow import USER, last_markup_data, open_confirmation
from tests.e2e.test_kie_flow import API, CDN, PNG, post_callback
from tests.fakes.updates import callback

MP3 = b"ID3" + b"\x00" * 64


@pytest.fixture
def kie() -> Iterator[respx.MockRouter]:
    with stamina.set_testing(True, attempts=2), respx.mock(assert_all_mocked=True) as router:
        yield router


def harness_with(**extra: Any) -> BotHarness:
    return BotHarness(
        kie_mode="real",
        kie_api_key="test-key",
        kie_api_base=API,
        webhook_base_url="https://bot.test",
        **extra,
    )


async def succeed_with(harness: BotHarness, kie: respx.MockRouter, urls: list[str]) -> str:
    kie.post(f"{API}/api/v1/jobs/createTask").mock(
        return_value=httpx.Response(200, json={"code": 200, "msg": "ok", "data": {"taskId": "t1"}})
    )
    await harness.feed(callback(USER, await open_confirmation(harness, "many foxes")))
    await harness.run_jobs()
    body = {
        "code": 200,
        "msg": "ok",
        "data": {
            "taskId": "t1",
            "state": "success",
            "resultJson": json.dumps({"resultUrls": urls}),
        },
    }
    assert (await post_callback(harness, body)).status_code == 200
    return next(iter(harness.storage.jobs))


def serve(kie: respx.MockRouter, name: str, content: bytes, mime: str) -> respx.Route:
    return kie.get(f"{CDN}/{name}").mock(
        return_value=httpx.Response(200, content=content, headers={"Content-Type": mime})
    )


async def test_several_images_go_as_one_media_group(kie: respx.MockRouter) -> None:
    harness = harness_with()
    for i in range(3):
        serve(kie, f"{i}.png", PNG, "image/png")
    job_id = await succeed_with(harness, kie, [f"{CDN}/{i}.png" for i in range(3)])

    groups = harness.api.sent(SendMediaGroup)
    assert len(groups) == 1
    assert len(groups[0].media) == 3
    assert groups[0].media[0].caption == "Z-Image · 0.76 RUB"
    assert groups[0].media[1].caption is None
    assert harness.api.sent(SendPhoto) == []
    assert harness.storage.jobs[job_id].status is JobStatus.DELIVERED


async def test_kinds_that_cannot_share_a_group_go_one_by_one(kie: respx.MockRouter) -> None:
    harness = harness_with()
    serve(kie, "a.png", PNG, "image/png")
    serve(kie, "b.mp3", MP3, "audio/mpeg")
    await succeed_with(harness, kie, [f"{CDN}/a.png", f"{CDN}/b.mp3"])
    assert harness.api.sent(SendMediaGroup) == []
    assert len(harness.api.sent(SendPhoto)) == 1
    assert len(harness.api.sent(SendAudio)) == 1


async def test_a_file_over_the_upload_limit_is_sent_as_a_link(kie: respx.MockRouter) -> None:
    harness = harness_with(telegram_upload_limit_mb=1)
    big = PNG + b"\x00" * (2 * 1024 * 1024)
    route = serve(kie, "big.png", big, "image/png")
    job_id = await succeed_with(harness, kie, [f"{CDN}/big.png"])

    assert route.call_count == 1
    assert harness.api.sent(SendPhoto) == []
    links = [m.text for m in harness.api.sent(SendMessage) if f"{CDN}/big.png" in m.text]
    assert len(links) == 1
    assert "larger than Telegram allows" in links[0]
    assert harness.storage.jobs[job_id].status is JobStatus.DELIVERED
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000 - 76, 0)  # handed over: paid
    assert await harness.run_jobs() == 0  # delivered once, not retried


async def test_an_html_page_instead_of_the_result_is_retried_within_seconds_then_refunded(
    kie: respx.MockRouter,
) -> None:
    harness = harness_with()
    page = kie.get(f"{CDN}/out.png").mock(
        return_value=httpx.Response(
            200, text="<!DOCTYPE html><html>Access denied</html>", headers={"Content-Type": ""}
        )
    )
    job_id = await succeed_with(harness, kie, [f"{CDN}/out.png"])

    assert page.call_count == 3  # delivery_max_attempts
    assert harness.sleep.waits == [2.0, 4.0]  # seconds apart, not a five-minute lease
    job = harness.storage.jobs[job_id]
    assert (job.status, job.failure) == (JobStatus.FAILED, FailureKind.UNDELIVERABLE)
    assert job.delivery_attempts == 3
    assert "HTML" in (job.error or "")
    texts = harness.api.texts()
    assert "⏳ Z-Image: ready, fetching the result…" in texts
    assert texts[-1] == (
        "❌ Z-Image: the result could not be fetched. 0.76 RUB returned to your balance."
    )
    assert last_markup_data(harness) == ["m:home"]
    assert harness.api.sent(SendPhoto) == []
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000, 0)  # never charged for it
    assert await harness.run_jobs() == 0  # ended, not retried on a lease


async def test_a_download_that_fails_once_is_delivered_on_the_retry(
    kie: respx.MockRouter,
) -> None:
    harness = harness_with()
    flaky = kie.get(f"{CDN}/out.png").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"}),
        ]
    )
    job_id = await succeed_with(harness, kie, [f"{CDN}/out.png"])
    assert flaky.call_count == 2
    assert harness.sleep.waits == [2.0]
    assert harness.storage.jobs[job_id].status is JobStatus.DELIVERED
    assert len(harness.api.sent(SendPhoto)) == 1
    balance = await harness.storage.balance(USER)
    assert (balance.total, balance.held) == (10_000 - 76, 0)


async def _chunks(size: int) -> AsyncIterator[bytes]:
    yield PNG
    for _ in range(size // 65536):
        yield b"\x00" * 65536


async def test_the_downloader_stops_streaming_at_the_limit_without_a_length() -> None:
    served = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal served
        async for chunk in _chunks(10 * 65536):
            served += 1
            yield chunk

    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{CDN}/stream.png").mock(
            return_value=httpx.Response(200, content=body(), headers={"Content-Type": "image/png"})
        )
        async with httpx.AsyncClient() as client:
            with pytest.raises(TooLarge):
                await HttpxDownloader(client).download(f"{CDN}/stream.png", 2 * 65536)
    assert served < 6


async def test_telegram_refusing_a_file_as_too_large_falls_back_to_the_link(
    kie: respx.MockRouter,
) -> None:
    harness = harness_with()
    serve(kie, "c.png", PNG, "image/png")
    harness.api.fail_next(SendPhoto, 413, "Request Entity Too Large")
    job_id = await succeed_with(harness, kie, [f"{CDN}/c.png"])
    assert any(f"{CDN}/c.png" in m.text for m in harness.api.sent(SendMessage))
    assert harness.storage.jobs[job_id].status is JobStatus.DELIVERED


async def test_a_short_text_result_is_sent_as_a_message_not_a_file(
    kie: respx.MockRouter,
) -> None:
    harness = harness_with()
    transcript = "Привет! This is the transcript.\nSecond line."
    serve(kie, "t.txt", transcript.encode(), "text/plain; charset=utf-8")
    job_id = await succeed_with(harness, kie, [f"{CDN}/t.txt"])
    texts = [m.text for m in harness.api.sent(SendMessage)]
    assert f"Z-Image · 0.76 RUB\n\n{transcript}" in texts
    sent = [m for m in harness.api.sent(SendMessage) if m.text and transcript in m.text]
    buttons = [b.text for row in sent[0].reply_markup.inline_keyboard for b in row]
    assert buttons == ["🔁 Repeat", "✨ New"]
    assert harness.api.sent(SendDocument) == []
    assert harness.storage.jobs[job_id].status is JobStatus.DELIVERED


async def test_a_long_text_result_is_sent_as_a_document(kie: respx.MockRouter) -> None:
    harness = harness_with()
    serve(kie, "long.txt", ("word " * 2000).encode(), "text/plain")
    await succeed_with(harness, kie, [f"{CDN}/long.txt"])
    assert len(harness.api.sent(SendDocument)) == 1
