"""The HTTP fakes of Telegram and Kie.ai answer as the real services do.

End-to-end tests trust these fakes, so they are checked here against the real clients: an
aiogram Bot over aiohttp for the Bot API, and the project's own Kie.ai client, downloader and
callback parser for Kie.ai. No PostgreSQL, no processes.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Invoice,
    LabeledPrice,
    LinkPreviewOptions,
    Update,
)

from adapters.catalog.loader import load_catalog
from adapters.generation.kie import KieGeneration
from adapters.kie.account import KieAccount
from adapters.kie.client import HttpxKieClient
from adapters.kie.errors import KieUnavailable
from adapters.kie.records import output_kinds, parse_callback
from adapters.kie.uploader import KieUploader
from adapters.media.downloader import HttpxDownloader
from core.domain.catalog import MediaKind
from core.ports.generation import GenerationAmbiguous, TaskRequest, TaskState, TaskStatus
from core.ports.media import DownloadError
from tests.fakes.bot_api_server import (
    UNKNOWN_FIELD,
    FakeBotApiServer,
    LoopbackHttpServer,
    make_png,
    read_body,
    send_bytes,
)
from tests.fakes.kie_server import FakeKieServer, Outcome
from tests.fakes.tg_user import PaymentResult
from tests.fakes.updates import message
from tests.fakes.waiting import until, wait_for

TOKEN = "4242:TEST-TOKEN-not-a-real-one"
CATALOG = load_catalog()
FUTURE = UNKNOWN_FIELD[0]


class Receiver:
    """A tiny HTTP endpoint that records POSTs and fails the first ``fail_first`` per chat."""

    def __init__(self, fail_first: dict[int, int] | None = None) -> None:
        self.fail_first = dict(fail_first or {})
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(read_body(self))
                chat = _chat_of(body)
                with receiver._lock:
                    failing = receiver.fail_first.get(chat, 0) > 0
                    if failing:
                        receiver.fail_first[chat] -= 1
                    status = 500 if failing else 200
                    receiver.requests.append(
                        {
                            "body": body,
                            "chat": chat,
                            "status": status,
                            "secret": self.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                            "path": self.path,
                        }
                    )
                send_bytes(self, status, b"{}" if status == 200 else b"oops", "application/json")

            def log_message(self, *args: Any) -> None:
                return None

        self._http = LoopbackHttpServer(Handler)
        self.url = f"http://127.0.0.1:{self._http.port}"

    def delivered(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["status"] == 200]

    def __enter__(self) -> Receiver:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.stop()


def _chat_of(body: dict[str, Any]) -> int:
    if "message" in body:
        return int(body["message"]["chat"]["id"])
    if "callback_query" in body:
        return int(body["callback_query"]["message"]["chat"]["id"])
    return 0


def call(api: FakeBotApiServer, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """A Bot API call as the project's own polling source makes it (JSON over httpx)."""
    response = httpx.post(f"{api.base}/bot{TOKEN}/{method}", json=params, timeout=30)
    return response.status_code, response.json()


def get_updates(api: FakeBotApiServer, **params: Any) -> tuple[int, dict[str, Any]]:
    return call(api, "getUpdates", **params)


@pytest.fixture
def api() -> Iterator[FakeBotApiServer]:
    with FakeBotApiServer(webhook_backoff=(0.05, 0.2)).running() as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotApiServer) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base))
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(link_preview_is_disabled=True))
    try:
        yield bot
    finally:
        await bot.session.close()


# --------------------------------------------------------------------------- Bot API


async def test_a_pressed_inline_button_round_trips_the_whole_message(
    api: FakeBotApiServer, bot: Bot
) -> None:
    masha = api.user(777, "Masha", "ru", username="masha")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Buy 100 ⭐", callback_data="buy:100")]]
    )
    sent = await bot.send_message(
        777,
        "Pay here https://kie.ai/pricing or /help",
        reply_markup=keyboard,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert sent.chat.id == 777
    assert sent.chat.first_name == "Masha"
    assert sent.from_user is not None
    assert sent.from_user.is_bot
    assert [(e.type, e.offset, e.length) for e in sent.entities or []] == [
        ("url", 9, 22),
        ("bot_command", 35, 5),
    ]
    assert sent.link_preview_options is not None
    assert sent.link_preview_options.is_disabled
    assert sent.model_extra == {FUTURE: UNKNOWN_FIELD[1]}
    second = await bot.send_message(777, "menu")
    assert second.message_id == sent.message_id + 1

    press = masha.press("Buy 100 ⭐")
    status, body = get_updates(api, timeout=0)
    assert status == 200
    [raw] = [u for u in body["result"] if "callback_query" in u]
    query = raw["callback_query"]
    assert query["data"] == "buy:100"
    assert query["chat_instance"]
    assert query["message"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "buy:100"
    assert query["message"][FUTURE] == UNKNOWN_FIELD[1]  # the raw JSON keeps it
    assert query["message"]["link_preview_options"] == {"is_disabled": True}

    update = Update.model_validate(raw, context={"bot": bot})
    assert update.callback_query is not None
    parsed = update.callback_query.message
    assert parsed is not None
    assert parsed.message_id == sent.message_id
    assert parsed.reply_markup == sent.reply_markup
    assert parsed.entities == sent.entities
    assert parsed.model_extra == {FUTURE: UNKNOWN_FIELD[1]}

    assert await update.callback_query.answer("Done")
    answer = masha.wait_for_answer(press)
    assert answer.text == "Done"
    assert answer.latency is not None
    assert answer.latency < 2.0
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query["id"])

    # An edit without reply_markup drops the keyboard; the same edit again is refused.
    await bot.edit_message_text("Paid", chat_id=777, message_id=sent.message_id)
    [edited, _] = masha.messages()
    assert edited.text == "Paid"
    assert edited.buttons == []
    assert edited.edited
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Paid", chat_id=777, message_id=sent.message_id)
    assert await bot.delete_message(777, second.message_id)
    assert [m.message_id for m in masha.messages()] == [sent.message_id]


async def test_media_uploads_and_user_files_download(api: FakeBotApiServer, bot: Bot) -> None:
    user = api.user(9, "Ann")
    png = make_png(640, 480)
    photo = await bot.send_photo(9, BufferedInputFile(png, "result.png"), caption="Here")
    assert photo.photo is not None
    assert [(s.width, s.height) for s in photo.photo] == [(90, 68), (320, 240), (640, 480)]
    assert photo.photo[-1].file_size == len(png)
    assert photo.caption == "Here"
    document = await bot.send_document(9, BufferedInputFile(b"%PDF-1.4 x", "report.pdf"))
    assert document.document is not None
    assert document.document.file_name == "report.pdf"
    assert document.document.mime_type == "application/pdf"
    album = await bot.send_media_group(
        9,
        [
            InputMediaPhoto(media=BufferedInputFile(make_png(), "a.png")),
            InputMediaPhoto(media=BufferedInputFile(make_png(), "b.png")),
        ],
    )
    assert len(album) == 2
    assert album[0].media_group_id == album[1].media_group_id
    assert user.messages()[0].content == png

    user.send_photo(make_png(1024, 768), caption="edit me")
    user.send_document(b"hello", "notes.txt")
    updates = await bot.get_updates(timeout=0)
    sizes = updates[0].message.photo  # type: ignore[union-attr]
    assert sizes is not None
    assert (sizes[-1].width, sizes[-1].height) == (1024, 768)
    downloaded = await bot.download(sizes[-1].file_id)
    assert downloaded is not None
    assert downloaded.read() == make_png(1024, 768)
    doc = updates[1].message.document  # type: ignore[union-attr]
    assert doc is not None
    assert doc.mime_type == "text/plain"

    api.fail("sendMessage", status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(9, "too fast")
    assert caught.value.retry_after == 3
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(9, " ")
    assert call(api, "noSuchMethod") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )


def test_get_updates_offsets_limits_and_strictly_increasing_ids(api: FakeBotApiServer) -> None:
    user = api.user(5)
    first = user.send_text("one")
    api.updates.append(message(5, "appended raw"))
    third = user.send_command("/start ref_x")
    ids = [u["update_id"] for u in api.pending_updates()]
    assert ids == sorted(set(ids))
    assert len(ids) == 3

    _, body = get_updates(api, limit=2)
    assert [u["update_id"] for u in body["result"]] == ids[:2]
    _, again = get_updates(api)
    assert [u["update_id"] for u in again["result"]] == ids  # nothing confirmed yet
    _, rest = get_updates(api, offset=ids[1] + 1)
    assert [u["update_id"] for u in rest["result"]] == [third["update_id"]]
    command = rest["result"][0]["message"]
    assert command["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert first["update_id"] not in [u["update_id"] for u in api.pending_updates()]


def test_long_poll_returns_as_soon_as_an_update_arrives(api: FakeBotApiServer) -> None:
    result: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        result["status"], result["body"] = get_updates(api, timeout=20)
        result["took"] = time.monotonic() - started

    thread = threading.Thread(target=poll)
    thread.start()
    wait_for(lambda: len(api.called("getUpdates")) == 1, 5, "the long poll to arrive")
    api.user(6).send_text("wake up")
    thread.join(10)
    assert result["status"] == 200
    assert result["took"] < 5
    assert result["body"]["result"][0]["message"]["text"] == "wake up"


def test_overlapping_polls_and_webhook_give_telegrams_409s(api: FakeBotApiServer) -> None:
    older: dict[str, Any] = {}

    def poll() -> None:
        older["status"], older["body"] = get_updates(api, timeout=20)

    thread = threading.Thread(target=poll)
    thread.start()
    wait_for(lambda: len(api.called("getUpdates")) == 1, 5, "the first long poll")
    status, _ = get_updates(api, timeout=0)
    thread.join(10)
    assert status == 200
    assert older["status"] == 409
    assert older["body"]["description"] == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot "
        "instance is running"
    )

    api.user(3).send_text("kept")
    hook = httpx.post(
        f"{api.base}/bot{TOKEN}/setWebhook", data={"url": "https://bot.example/hook"}
    ).json()
    assert hook == {"ok": True, "result": True, "description": "Webhook was set"}
    status, body = get_updates(api)
    assert (status, body["error_code"]) == (409, 409)
    assert "can't use getUpdates method while webhook is active" in body["description"]
    info = httpx.get(f"{api.base}/bot{TOKEN}/getWebhookInfo").json()["result"]
    assert info["url"] == "https://bot.example/hook"
    assert info["pending_update_count"] == 1
    wait_for(lambda: "last_error_message" in api.webhook_info(), 5, "a failed delivery")
    assert api.webhook_info()["last_error_message"] == (
        "Failed to resolve host: Name or service not known"
    )
    httpx.post(f"{api.base}/bot{TOKEN}/deleteWebhook", json={"drop_pending_updates": False})
    _, body = get_updates(api)
    assert [u["message"]["text"] for u in body["result"]] == ["kept"]


def test_webhook_retries_until_2xx_and_keeps_per_chat_order(api: FakeBotApiServer) -> None:
    first, second = api.user(1), api.user(2)
    for n in range(3):
        first.send_text(f"a{n}")
    for n in range(2):
        second.send_text(f"b{n}")
    with Receiver(fail_first={1: 2}) as receiver:
        api.route_webhook("https://bot.example", receiver.url)
        hook = {"url": "https://bot.example/webhook/p", "secret_token": "s3cret_TOKEN-1"}
        assert httpx.post(f"{api.base}/bot{TOKEN}/setWebhook", json=hook).json()["ok"]
        wait_for(lambda: api.webhook_info()["pending_update_count"] == 0, 8, "all delivered")
        seen = list(receiver.requests)
    per_chat = {
        chat: [
            r["body"]["message"]["text"] for r in seen if r["chat"] == chat and r["status"] == 200
        ]
        for chat in (1, 2)
    }
    assert per_chat == {1: ["a0", "a1", "a2"], 2: ["b0", "b1"]}
    chat_one = [(r["body"]["message"]["text"], r["status"]) for r in seen if r["chat"] == 1]
    assert chat_one[:3] == [("a0", 500), ("a0", 500), ("a0", 200)]  # a1 waited for a0
    assert {r["secret"] for r in seen} == {"s3cret_TOKEN-1"}
    assert {r["path"] for r in seen} == {"/webhook/p"}
    assert api.webhook_info()["last_error_message"] == (
        "Wrong response from the webhook: 500 Internal Server Error"
    )
    failed = [a for a in api.webhook_attempts if not a.ok]
    assert len(failed) == 2
    assert failed[1].started - failed[0].finished >= 0.05


# ---------------------------------------------------------------------- Stars payments


def stars(amount: int = 100) -> list[LabeledPrice]:
    return [LabeledPrice(label=f"{amount} ⭐", amount=amount)]


def pay_keyboard(*, pay_first: bool = True) -> InlineKeyboardMarkup:
    pay = [InlineKeyboardButton(text="Pay ⭐", pay=True)]
    back = [InlineKeyboardButton(text="Back", callback_data="menu")]
    return InlineKeyboardMarkup(inline_keyboard=[pay, back] if pay_first else [back, pay])


async def next_updates(bot: Bot, after: int | None) -> list[Update]:
    """One long poll confirming everything up to ``after``."""
    return await bot.get_updates(offset=None if after is None else after + 1, timeout=5)


async def test_stars_invoices_are_sent_and_invalid_ones_get_telegrams_400s(
    api: FakeBotApiServer, bot: Bot
) -> None:
    user = api.user(31, "Ann")
    sent = await bot.send_invoice(
        31,
        title="100 Stars",
        description="Top up the balance",
        payload="purchase-7f3a",
        currency="XTR",
        prices=stars(100),
        reply_markup=pay_keyboard(),
    )
    assert sent.invoice is not None
    assert (
        sent.invoice.model_dump()
        == Invoice(
            title="100 Stars",
            description="Top up the balance",
            start_parameter="",
            currency="XTR",
            total_amount=100,
        ).model_dump()
    )
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][0].pay
    [shown] = user.invoices()
    assert shown.message_id == sent.message_id
    assert "purchase-7f3a" not in json.dumps(shown.raw)  # only the server knows the payload
    assert api.invoice_payload(31, sent.message_id) == "purchase-7f3a"
    plain = await bot.send_invoice(
        31, "5 Stars", "No keyboard", "p2", currency="XTR", prices=stars(5), provider_token=""
    )
    assert plain.invoice is not None
    assert plain.invoice.total_amount == 5

    invalid: list[tuple[dict[str, Any], str]] = [
        ({"currency": "USD"}, "PAYMENT_PROVIDER_INVALID"),
        ({"provider_token": "284685063:TEST:abc"}, "STARS_INVOICE_INVALID"),
        ({"prices": stars(1) + stars(2)}, "STARS_INVOICE_INVALID"),
        ({"prices": stars(0)}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"prices": stars(100_001)}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"reply_markup": pay_keyboard(pay_first=False)}, "REPLY_MARKUP_BUY_EMPTY"),
    ]
    for change, description in invalid:
        params: dict[str, Any] = {"currency": "XTR", "prices": stars(10), **change}
        with pytest.raises(TelegramBadRequest) as caught:
            await bot.send_invoice(31, "Stars", "Top up", "p3", **params)
        assert caught.value.message == f"Bad Request: {description}", change
    status, body = call(
        api, "sendInvoice", chat_id=31, title="t", description="d", currency="XTR", prices=[]
    )
    assert (status, body["description"]) == (400, 'Bad Request: parameter "payload" is required')
    assert len(user.invoices()) == 2

    assert await bot.delete_message(31, sent.message_id)
    assert [m.message_id for m in user.invoices()] == [plain.message_id]
    with pytest.raises(LookupError, match="no message"):
        user.pay(sent.message_id)


async def test_pay_answer_successful_payment_redelivery_and_refund(
    api: FakeBotApiServer, bot: Bot
) -> None:
    user = api.user(32, "Bob", username="bob")
    invoice = await bot.send_invoice(
        32, "100 Stars", "Top up", "purchase-1", currency="XTR", prices=stars(100)
    )
    paying = asyncio.create_task(asyncio.to_thread(user.pay))
    [update] = await next_updates(bot, None)
    query = update.pre_checkout_query
    assert query is not None
    assert (query.currency, query.total_amount, query.invoice_payload) == (
        "XTR",
        100,
        "purchase-1",
    )
    assert query.from_user.id == 32
    assert query.from_user.username == "bob"
    with pytest.raises(TelegramBadRequest, match="QUERY_ID_INVALID"):
        await bot.answer_pre_checkout_query("4242424242424242", ok=True)
    assert await bot.answer_pre_checkout_query(query.id, ok=True)
    with pytest.raises(TelegramBadRequest, match="QUERY_ID_INVALID"):
        await bot.answer_pre_checkout_query(query.id, ok=True)  # answerable once

    result: PaymentResult = await paying
    assert result.answered_ok
    assert result.error_message is None
    assert result.latency is not None
    assert result.latency < 2.0
    assert result.charge_id is not None
    assert result.charge_id.startswith("stx")
    assert result.update_ids[0] == update.update_id
    assert result.invoice_message_id == invoice.message_id

    [paid] = await next_updates(bot, update.update_id)
    assert paid.update_id == result.payment_update_id
    assert paid.message is not None
    assert paid.message.chat.id == 32
    assert paid.message.from_user is not None
    assert paid.message.from_user.id == 32
    payment = paid.message.successful_payment
    assert payment is not None
    assert (payment.currency, payment.total_amount, payment.invoice_payload) == (
        "XTR",
        100,
        "purchase-1",
    )
    assert payment.telegram_payment_charge_id == result.charge_id
    assert payment.provider_payment_charge_id == ""

    again = user.resend_successful_payment(result)
    [resent] = await next_updates(bot, paid.update_id)
    assert resent.update_id == again["update_id"] > paid.update_id
    assert resent.message is not None
    assert resent.message.message_id == paid.message.message_id
    assert resent.message.successful_payment == payment
    with pytest.raises(LookupError, match="already paid"):
        user.pay(invoice.message_id)

    [sale] = (await bot.get_star_transactions()).transactions
    assert (sale.id, sale.amount, sale.receiver) == (result.charge_id, 100, None)
    assert sale.source is not None
    assert sale.source.type == "user"
    assert sale.source.user.id == 32  # type: ignore[union-attr]
    assert (await bot.get_my_star_balance()).amount == 100

    with pytest.raises(TelegramBadRequest, match="CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(32, "stxNoSuchCharge")
    with pytest.raises(TelegramBadRequest, match="CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(33, result.charge_id)  # someone else's charge
    assert await bot.refund_star_payment(32, result.charge_id)
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(32, result.charge_id)
    [refund_update] = await next_updates(bot, resent.update_id)
    assert refund_update.message is not None
    refunded = refund_update.message.refunded_payment
    assert refunded is not None
    assert (refunded.telegram_payment_charge_id, refunded.total_amount) == (result.charge_id, 100)
    assert refunded.invoice_payload == "purchase-1"
    sale, refund = (await bot.get_star_transactions()).transactions
    assert refund.id == result.charge_id
    assert refund.source is None
    assert refund.receiver is not None
    assert refund.receiver.user.id == 32  # type: ignore[union-attr]
    assert len((await bot.get_star_transactions(offset=1, limit=5)).transactions) == 1
    assert (await bot.get_my_star_balance()).amount == 0
    [charge] = api.charges()
    assert charge.refunded


async def test_declined_stale_and_unanswered_payments_are_not_charged(
    api: FakeBotApiServer, bot: Bot
) -> None:
    user = api.user(34)
    await bot.send_invoice(
        34, "50 Stars", "Top up", "purchase-2", currency="XTR", prices=stars(50)
    )
    paying = asyncio.create_task(asyncio.to_thread(user.pay, stars=40))
    [update] = await next_updates(bot, None)
    assert update.pre_checkout_query is not None
    assert update.pre_checkout_query.total_amount == 40  # what the stale client shows
    with pytest.raises(TelegramBadRequest, match='parameter "error_message" is required'):
        await bot.answer_pre_checkout_query(update.pre_checkout_query.id, ok=False)
    assert await bot.answer_pre_checkout_query(
        update.pre_checkout_query.id, ok=False, error_message="The price has changed"
    )
    declined = await paying
    assert declined.answered
    assert not declined.answered_ok
    assert not declined.paid
    assert declined.error_message == "The price has changed"
    assert declined.update_ids == [update.update_id]

    late = await asyncio.to_thread(user.pay, timeout=0.3)  # nobody answers in time
    assert not late.answered
    assert late.latency is None
    with pytest.raises(TelegramBadRequest, match="QUERY_ID_INVALID"):
        await bot.answer_pre_checkout_query(late.query_id, ok=True)
    pending = await next_updates(bot, update.update_id)
    assert [u.update_id for u in pending] == [late.pre_checkout_update_id]
    assert api.charges() == []
    assert (await bot.get_star_transactions()).transactions == []


def test_a_webhook_answering_in_its_response_completes_the_payment(
    api: FakeBotApiServer,
) -> None:
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            update = json.loads(read_body(self))
            with lock:
                seen.append(update)
            answer: dict[str, Any] = {}
            if "pre_checkout_query" in update:
                answer = {
                    "method": "answerPreCheckoutQuery",
                    "pre_checkout_query_id": update["pre_checkout_query"]["id"],
                    "ok": True,
                }
            send_bytes(self, 200, json.dumps(answer).encode(), "application/json")

        def log_message(self, *args: Any) -> None:
            return None

    user = api.user(35)
    _, sent = call(
        api,
        "sendInvoice",
        chat_id=35,
        title="10 Stars",
        description="Top up",
        payload="purchase-3",
        currency="XTR",
        prices=[{"label": "10 ⭐", "amount": 10}],
    )
    assert sent["ok"]
    hook = LoopbackHttpServer(Handler)
    hook.start()
    try:
        assert call(api, "setWebhook", url=f"http://127.0.0.1:{hook.port}/hook")[1]["ok"]
        result = user.pay(timeout=5)
        assert result.paid
        wait_for(lambda: len(seen) == 2, 5, "the successful_payment delivery")
    finally:
        hook.stop()
    assert [next(k for k in u if k != "update_id") for u in seen] == [
        "pre_checkout_query",
        "message",
    ]
    assert seen[1]["message"]["successful_payment"]["telegram_payment_charge_id"] == (
        result.charge_id
    )


# ---------------------------------------------------------------------------- Kie.ai


@pytest.fixture
def kie() -> Iterator[FakeKieServer]:
    with FakeKieServer(task_seconds=0.2, callback_backoff=0.05).running() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


def kie_client(
    kie: FakeKieServer, http: httpx.AsyncClient, key: str | None = None
) -> HttpxKieClient:
    return HttpxKieClient(
        http,
        key or kie.api_key,
        api_base=kie.api_base,
        upload_base=kie.upload_base,
        retry_attempts=1,
    )


def generation(
    kie: FakeKieServer, http: httpx.AsyncClient, key: str | None = None
) -> KieGeneration:
    return KieGeneration(kie_client(kie, http, key), CATALOG)


def request(prompt: str, callback_url: str | None = None) -> TaskRequest:
    return TaskRequest("job-1", CATALOG.get("z-image"), {"prompt": prompt}, callback_url)


async def finished(gen: KieGeneration, task_id: str) -> TaskStatus:
    seen: list[TaskStatus] = []

    async def done() -> bool:
        seen.append(await gen.status(task_id))
        return seen[-1].state in (TaskState.SUCCEEDED, TaskState.FAILED)

    await until(done, 5, f"task {task_id} finished")
    return seen[-1]


async def test_kie_task_succeeds_with_a_downloadable_png(
    kie: FakeKieServer, http: httpx.AsyncClient
) -> None:
    gen = generation(kie, http)
    task_id = await gen.submit(request("a red fox"))
    assert len(task_id) == 32
    assert kie.created()[0]["input"]["prompt"] == "a red fox"
    assert (await gen.status(task_id)).state in (TaskState.PENDING, TaskState.RUNNING)
    status = await finished(gen, task_id)
    assert status.state is TaskState.SUCCEEDED
    [result] = status.files
    assert result.kind is MediaKind.IMAGE
    downloaded = await HttpxDownloader(http).download(result.url, 10_000_000)
    assert downloaded.mime == "image/png"
    assert downloaded.content.startswith(b"\x89PNG\r\n\x1a\n")
    raw = kie.calls_to("/api/v1/jobs/recordInfo")[-1]
    assert raw.authorization == f"Bearer {kie.api_key}"
    assert await KieAccount(kie_client(kie, http)).credits() == kie.balance


async def test_kie_create_502_is_ambiguous_and_failures_map(
    kie: FakeKieServer, http: httpx.AsyncClient
) -> None:
    gen = generation(kie, http)
    with pytest.raises(GenerationAmbiguous):
        await gen.submit(request("a cat kie:create_502"))
    assert kie.created() == []
    assert len(kie.create_calls()) == 1

    task_id = await gen.submit(request("a cat kie:policy"))
    status = await finished(gen, task_id)
    assert status.state is TaskState.FAILED
    assert status.error is not None
    assert "content policy" in status.error
    assert "(400)" in status.error

    kie.script("maintenance")
    with pytest.raises(KieUnavailable) as caught:
        await gen.submit(request("a dog"))
    assert caught.value.code == 455
    with pytest.raises(KieUnavailable) as caught:
        await generation(kie, http, key="wrong-key").submit(request("a dog"))
    assert caught.value.code == 401

    kie.script(Outcome("html_result"))
    html_task = await gen.submit(request("a bird"))
    [page] = (await finished(gen, html_task)).files
    with pytest.raises(DownloadError):
        await HttpxDownloader(http).download(page.url, 10_000_000)


@pytest.mark.parametrize("mirror", [False, True], ids=["body-code", "http-status"])
async def test_kie_record_still_null_after_create_reads_as_not_finished(
    http: httpx.AsyncClient, mirror: bool
) -> None:
    # Held invisible until finished, so nothing here depends on how fast the test runs.
    late = Outcome("late_record", invisible_code=422, visible_after=3600.0, hold=True)
    with FakeKieServer(mirror_status=mirror).running() as server:
        server.script(late)
        gen = generation(server, http)
        task_id = await gen.submit(request("a late fox"))
        raw = await http.get(
            f"{server.api_base}/api/v1/jobs/recordInfo",
            params={"taskId": task_id},
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
        assert raw.status_code == (422 if mirror else 200)
        assert (raw.json()["code"], raw.json()["msg"]) == (422, "recordInfo is null")
        assert (await gen.status(task_id)).state is TaskState.PENDING

        server.finish(task_id, "success")
        status = await gen.status(task_id)
    assert status.state is TaskState.SUCCEEDED
    assert [f.kind for f in status.files] == [MediaKind.IMAGE]


async def test_kie_callback_reaches_the_receiver_and_uploads_are_served(
    kie: FakeKieServer, http: httpx.AsyncClient
) -> None:
    gen = generation(kie, http)
    with Receiver() as receiver:
        task_id = await gen.submit(request("a fox", f"{receiver.url}/kie/callback/job-1/t0k"))
        callback = await _wait_callback(kie, task_id)
        [posted] = receiver.requests
    assert posted["path"] == "/kie/callback/job-1/t0k"
    body = posted["body"]
    assert body == callback.body
    assert body["code"] == 200
    assert isinstance(body["data"]["resultJson"], str)
    reported, status = parse_callback(body, output_kinds(CATALOG))
    assert reported == task_id
    assert status.state is TaskState.SUCCEEDED
    assert (await HttpxDownloader(http).download(status.files[0].url, 10**7)).mime == "image/png"

    uploader = KieUploader(kie_client(kie, http))
    url = await uploader.upload(b"\xff\xd8\xff\xe0 jpeg bytes", "photo.jpg", "image/jpeg")
    assert url.startswith(kie.base + "/files/uploads/kiebot/")
    fetched = await http.get(url)
    assert fetched.content == b"\xff\xd8\xff\xe0 jpeg bytes"
    assert fetched.headers["content-type"] == "image/jpeg"
    assert kie.uploads[0].upload_path == "kiebot"


async def _wait_callback(kie: FakeKieServer, task_id: str) -> Any:
    found: list[Any] = []

    def arrived() -> bool:
        found.extend(c for c in kie.callbacks if c.task_id == task_id and c.ok)
        return bool(found)

    await until(arrived, 5, "the Kie callback")
    return found[0]
