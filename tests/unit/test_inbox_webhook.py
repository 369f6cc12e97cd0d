"""The webhook route: authenticate, validate, store, THEN 200 ."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from adapters.http.app import MAX_BODY, Ingest, build_app
from adapters.http.health import HealthState
from adapters.http.metrics import PrometheusMetrics
from adapters.memory.inbox import InMemoryInbox
from adapters.memory.metrics import InMemoryMetrics
from core.usecases.ingest import IngestUpdate
from tests.contract.inbox_support import upd

PATH = "/webhook/p4th-s3cret"
GOOD = {"X-Telegram-Bot-Api-Secret-Token": "t0ken-s3cret"}


@pytest.fixture
def inbox() -> InMemoryInbox:
    return InMemoryInbox()


@pytest.fixture
def metrics() -> InMemoryMetrics:
    return InMemoryMetrics()


@pytest.fixture
def ingest(inbox: InMemoryInbox, metrics: InMemoryMetrics) -> Ingest:
    store = IngestUpdate(inbox, metrics)
    return Ingest(path_secret="p4th-s3cret", secret_token="t0ken-s3cret", store=store)


@pytest.fixture
async def client(ingest: Ingest) -> AsyncIterator[AsyncTestClient]:
    app = build_app(HealthState(storage="memory", kie_mode="stub"), ingest)
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_good_secret_stores_then_answers_200(client, inbox, ingest, metrics) -> None:
    woken = []
    ingest.store.on_stored = lambda: woken.append(True)
    response = await client.post(PATH, json=upd(10), headers=GOOD)
    assert response.status_code == 200
    assert list(inbox.rows) == [10]
    assert inbox.rows[10].payload == upd(10)
    assert inbox.rows[10].chat_key == 1
    assert woken == [True]
    assert metrics.ingested == {"webhook": 1}
    assert metrics.duplicate == {}


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-Telegram-Bot-Api-Secret-Token": "t0ken-s3creT"}, 403)],
    ids=["missing", "wrong"],
)
async def test_bad_secret_token_is_refused_and_nothing_stored(
    client, inbox, headers, status
) -> None:
    response = await client.post(PATH, json=upd(11), headers=headers)
    assert response.status_code == status
    assert inbox.rows == {}


async def test_wrong_path_secret_is_404_and_nothing_stored(client, inbox) -> None:
    response = await client.post("/webhook/guess", json=upd(12), headers=GOOD)
    assert response.status_code == 404
    assert inbox.rows == {}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "12"}', b'{"update_id": true}'],
    ids=["malformed", "array", "no-update-id", "string-id", "bool-id"],
)
async def test_bad_body_is_400_and_nothing_stored(client, inbox, body) -> None:
    headers = {**GOOD, "Content-Type": "application/json"}
    response = await client.post(PATH, content=body, headers=headers)
    assert response.status_code == 400
    assert inbox.rows == {}


async def test_oversized_body_is_413_and_nothing_stored(client, inbox) -> None:
    big = json.dumps({**upd(13), "pad": "x" * MAX_BODY}).encode()
    response = await client.post(PATH, content=big, headers=GOOD)
    assert response.status_code == 413
    assert inbox.rows == {}


async def test_duplicate_delivery_is_stored_once(client, inbox, metrics) -> None:
    for _ in range(3):
        assert (await client.post(PATH, json=upd(14), headers=GOOD)).status_code == 200
    assert list(inbox.rows) == [14]
    assert metrics.ingested == {"webhook": 1}
    assert metrics.duplicate == {"webhook": 2}


async def test_refused_requests_count_nothing_as_ingested(client, metrics) -> None:
    await client.post(PATH, json=upd(17))  # no secret token
    await client.post(PATH, content=b"{not json", headers=GOOD)
    assert metrics.ingested == {}
    assert metrics.duplicate == {}


async def test_not_ready_or_draining_answers_503_so_telegram_retries(
    client, inbox, ingest
) -> None:
    ingest.draining = True
    assert (await client.post(PATH, json=upd(15), headers=GOOD)).status_code == 503
    ingest.draining, ingest.store = False, None
    assert (await client.post(PATH, json=upd(15), headers=GOOD)).status_code == 503
    assert inbox.rows == {}


async def test_health_has_the_seed_fields_and_metrics_count_ingest(client, inbox, ingest) -> None:
    ingest.store = IngestUpdate(inbox, PrometheusMetrics())
    await client.post(PATH, json=upd(16), headers=GOOD)
    body = (await client.get("/health")).json()
    seed = {"status", "uptime", "storage", "kie_mode", "migrations_applied", "migrations_count"}
    lock = {"lock_state", "lock_holder_pid", "lock_idle_duration", "lock_heartbeat_age"}
    assert seed | lock | {"lock_takeover_event"} <= set(body)
    metrics = (await client.get("/metrics")).text
    assert 'kiebot_updates_ingested_total{source="webhook"}' in metrics
