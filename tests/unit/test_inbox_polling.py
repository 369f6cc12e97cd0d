"""HttpxPollingSource against a scripted Bot API: raw updates stored before the offset moves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.memory.inbox import InMemoryInbox
from adapters.memory.metrics import InMemoryMetrics
from adapters.telegram.polling import HttpxPollingSource
from core.ports.updates import UpdateSink
from core.usecases.ingest import IngestUpdate
from entrypoints.runtimes import store_in
from tests.conftest import TOKEN
from tests.fakes.updates import callback, message
from tests.fakes.waiting import until


class ScriptedBotApi:
    """getUpdates with Telegram's offset rule; other methods answered from ``answers``."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[tuple[str, int, dict[str, Any]]] = []
        self.webhook_url = ""
        self.hang = False
        self.polling = asyncio.Event()

    def offsets(self) -> list[int | None]:
        return [params.get("offset") for name, params in self.calls if name == "getUpdates"]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        params = json.loads(request.content or b"{}")
        self.calls.append((method, params))
        for i, (name, status, body) in enumerate(self.errors):
            if name == method:
                del self.errors[i]
                return httpx.Response(status, json={"ok": False, "error_code": status, **body})
        if method == "getWebhookInfo":
            return _ok({"url": self.webhook_url, "pending_update_count": 0})
        if method == "deleteWebhook":
            self.webhook_url = ""
            return _ok(True)
        if method == "getUpdates":
            if self.webhook_url:
                return httpx.Response(
                    409,
                    json={
                        "ok": False,
                        "error_code": 409,
                        "description": "Conflict: can't use getUpdates method while webhook "
                        "is active; use deleteWebhook to delete the webhook first",
                    },
                )
            self.polling.set()
            if self.hang:
                await asyncio.Event().wait()  # a long poll nobody answers
            offset = params.get("offset") or 0
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            return _ok(self.updates)
        return httpx.Response(404, json={"ok": False, "error_code": 404, "description": "x"})


def _ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def source(api: ScriptedBotApi) -> HttpxPollingSource:
    return HttpxPollingSource(
        TOKEN,
        ["message", "callback_query"],
        api_base="http://bot-api.test",
        timeout=0,
        initial_backoff=0.01,
        transport=httpx.MockTransport(api),
    )


def polling_sink(inbox: InMemoryInbox, metrics: InMemoryMetrics | None = None) -> UpdateSink:
    """The sink the polling runtime uses, on in-memory adapters."""
    return store_in(IngestUpdate(inbox, metrics or InMemoryMetrics()))


async def run_until(api: ScriptedBotApi, sink: Any, done: Any) -> HttpxPollingSource:
    poller = source(api)
    task = asyncio.create_task(poller.run(sink))
    await until(done)
    await poller.stop()
    await task
    await poller.close()
    return poller


async def test_updates_are_stored_before_the_offset_moves_past_them() -> None:
    api, inbox = ScriptedBotApi(), InMemoryInbox()
    api.updates = [message(1, "a"), message(1, "b")]
    ids = [u["update_id"] for u in api.updates]
    await run_until(api, polling_sink(inbox), lambda: ids[-1] + 1 in api.offsets())
    assert sorted(inbox.rows) == ids
    assert api.updates == []  # confirmed to Telegram only after both were stored


async def test_polled_updates_are_counted_as_polling_and_a_redelivery_as_a_duplicate() -> None:
    api, inbox, metrics = ScriptedBotApi(), InMemoryInbox(), InMemoryMetrics()
    already = message(4, "stored before a restart")
    await inbox.store(already["update_id"], already, 4)
    api.updates = [already, message(4, "new")]
    ids = [u["update_id"] for u in api.updates]
    woken: list[bool] = []
    ingest = IngestUpdate(inbox, metrics, lambda: woken.append(True))
    await run_until(api, store_in(ingest), lambda: ids[-1] + 1 in api.offsets())
    assert sorted(inbox.rows) == ids
    assert metrics.ingested == {"polling": 1}
    assert metrics.duplicate == {"polling": 1}
    assert woken == [True]  # the workers are woken for the new update only


async def test_fields_aiogram_does_not_know_are_stored_as_telegram_sent_them() -> None:
    """A button press on a message the bot sent carries link_preview_options and more."""
    api, inbox = ScriptedBotApi(), InMemoryInbox()
    press = callback(5, "menu")
    press["callback_query"]["message"].update(
        link_preview_options={"is_disabled": True},
        entities=[{"type": "url", "offset": 0, "length": 18}],
        reply_markup={"inline_keyboard": [[{"text": "Go", "callback_data": "menu"}]]},
        a_field_from_a_future_bot_api={"nested": [1, 2.5, "x"]},
    )
    later = message(6, "after the press")
    api.updates = [press, later]
    await run_until(api, polling_sink(inbox), lambda: len(inbox.rows) == 2)
    assert inbox.rows[press["update_id"]].payload == press
    assert inbox.rows[later["update_id"]].payload == later


async def test_a_failing_sink_keeps_the_offset_and_gets_the_update_again(caplog) -> None:
    api, stored, failures = ScriptedBotApi(), [], [1]
    api.updates = [message(2, "hello")]
    update_id = api.updates[0]["update_id"]

    async def flaky(update: Mapping[str, Any]) -> None:
        if failures:
            failures.pop()
            raise ConnectionError("database restarting")
        stored.append(update["update_id"])

    await run_until(api, flaky, lambda: update_id + 1 in api.offsets())
    assert stored == [update_id]
    assert api.offsets()[:2] == [None, None]  # the second fetch did not skip the update
    assert f"could not store update_id={update_id}" in caplog.text


async def test_an_update_without_an_id_is_skipped_and_does_not_block_the_next(caplog) -> None:
    api, inbox = ScriptedBotApi(), InMemoryInbox()
    good = message(7, "fine")
    api.updates = [good]

    async def with_bad(request: httpx.Request) -> httpx.Response:
        response = await api(request)
        if request.url.path.endswith("getUpdates"):
            body = json.loads(response.content)
            body["result"] = [{"update_id": "seven", "message": {}}, *body["result"]]
            return httpx.Response(200, json=body)
        return response

    poller = HttpxPollingSource(
        TOKEN,
        ["message"],
        api_base="http://bot-api.test",
        timeout=0,
        initial_backoff=0.01,
        transport=httpx.MockTransport(with_bad),
    )
    task = asyncio.create_task(poller.run(polling_sink(inbox)))
    await until(lambda: good["update_id"] + 1 in api.offsets())
    await poller.stop()
    await task
    await poller.close()
    assert list(inbox.rows) == [good["update_id"]]
    assert "skipped an update without an update_id" in caplog.text


async def test_a_webhook_left_set_is_deleted_keeping_pending_updates(caplog) -> None:
    api, inbox = ScriptedBotApi(), InMemoryInbox()
    api.webhook_url = "https://old.example/webhook/x"
    api.updates = [message(3, "sent while the webhook was set")]
    await run_until(api, polling_sink(inbox), lambda: len(inbox.rows) == 1)
    [delete] = [params for name, params in api.calls if name == "deleteWebhook"]
    assert delete == {"drop_pending_updates": False}
    assert "deleting it, keeping the pending updates" in caplog.text


async def test_webhook_set_while_polling_is_deleted_on_the_409() -> None:
    api, inbox = ScriptedBotApi(), InMemoryInbox()
    api.updates = [message(3, "x")]
    poller = source(api)
    api.errors.append(("getWebhookInfo", 502, {"description": "Bad Gateway"}))
    api.webhook_url = "https://other.example/hook"
    task = asyncio.create_task(poller.run(polling_sink(inbox)))
    await until(lambda: len(inbox.rows) == 1)
    await poller.stop()
    await task
    await poller.close()
    names = [name for name, _ in api.calls]
    assert names.index("deleteWebhook") > names.index("getUpdates")  # after the 409


async def test_another_poller_409_is_logged_backed_off_and_polling_resumes(caplog) -> None:
    api, inbox = ScriptedBotApi(), InMemoryInbox()
    api.errors.append(
        ("getUpdates", 409, {"description": "Conflict: terminated by other getUpdates request"})
    )
    api.errors.append(
        ("getUpdates", 429, {"description": "Too Many Requests", "parameters": {"retry_after": 0}})
    )
    api.updates = [message(3, "after conflict")]
    await run_until(api, polling_sink(inbox), lambda: len(inbox.rows) == 1)
    assert caplog.text.count("[POLLING] 409 Conflict") == 1
    assert "rate limited" in caplog.text
    assert "deleteWebhook" not in [name for name, _ in api.calls]


async def test_stop_interrupts_a_long_poll_at_once() -> None:
    api = ScriptedBotApi()
    api.hang = True
    poller = source(api)
    task = asyncio.create_task(poller.run(polling_sink(InMemoryInbox())))
    await asyncio.wait_for(api.polling.wait(), 2)
    await poller.stop()
    await asyncio.wait_for(task, 2)
    await poller.close()
