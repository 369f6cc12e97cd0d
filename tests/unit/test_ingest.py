"""IngestUpdate: the one road from the webhook and the poller into the inbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import REGISTRY

from adapters.http.metrics import PrometheusMetrics
from adapters.memory.inbox import InMemoryInbox
from adapters.memory.metrics import InMemoryMetrics
from core.usecases.ingest import IngestUpdate
from tests.contract.inbox_support import upd


class BrokenInbox(InMemoryInbox):
    """The database went away between accepting the request and storing it."""

    async def store(
        self, update_id: int, payload: Mapping[str, Any], chat_key: int | None
    ) -> bool:
        raise ConnectionError("database restarting")


@pytest.fixture
def inbox() -> InMemoryInbox:
    return InMemoryInbox()


@pytest.fixture
def metrics() -> InMemoryMetrics:
    return InMemoryMetrics()


async def test_a_new_update_is_stored_counted_and_wakes_the_workers(inbox, metrics) -> None:
    woken: list[bool] = []
    ingest = IngestUpdate(inbox, metrics, lambda: woken.append(True))

    assert await ingest(10, upd(10, chat=7), 7, "webhook") is True

    assert inbox.rows[10].payload == upd(10, chat=7)
    assert inbox.rows[10].chat_key == 7
    assert metrics.ingested == {"webhook": 1}
    assert metrics.duplicate == {}
    assert woken == [True]


async def test_a_redelivery_is_counted_as_a_duplicate_and_wakes_nobody(inbox, metrics) -> None:
    woken: list[bool] = []
    ingest = IngestUpdate(inbox, metrics, lambda: woken.append(True))
    await ingest(11, upd(11), 1, "polling")

    assert await ingest(11, {**upd(11), "text": "changed"}, 1, "polling") is False

    assert inbox.rows[11].payload == upd(11)  # the first stored copy is kept
    assert metrics.ingested == {"polling": 1}
    assert metrics.duplicate == {"polling": 1}
    assert woken == [True]


async def test_sources_are_counted_apart(inbox, metrics) -> None:
    ingest = IngestUpdate(inbox, metrics)
    await ingest(12, upd(12), 1, "webhook")
    await ingest(12, upd(12), 1, "polling")
    await ingest(13, upd(13), 1, "polling")
    assert metrics.ingested == {"webhook": 1, "polling": 1}
    assert metrics.duplicate == {"polling": 1}


async def test_a_failing_store_raises_and_counts_nothing(metrics) -> None:
    woken: list[bool] = []
    ingest = IngestUpdate(BrokenInbox(), metrics, lambda: woken.append(True))
    with pytest.raises(ConnectionError):
        await ingest(14, upd(14), 1, "webhook")
    assert metrics.ingested == {}
    assert metrics.duplicate == {}
    assert woken == []


async def test_on_stored_set_later_is_the_one_called(inbox, metrics) -> None:
    """The webhook stores before the workers exist; they plug in their wake-up afterwards."""
    ingest = IngestUpdate(inbox, metrics)
    await ingest(15, upd(15), 1, "webhook")  # nobody to wake yet: no error
    woken: list[int] = []
    ingest.on_stored = lambda: woken.append(16)
    await ingest(16, upd(16), 1, "webhook")
    assert woken == [16]


def _sample(name: str, source: str) -> float:
    return REGISTRY.get_sample_value(name, {"source": source}) or 0.0


async def test_prometheus_metrics_move_the_exported_counters(inbox) -> None:
    ingested = "kiebot_updates_ingested_total"
    duplicate = "kiebot_updates_duplicate_total"
    before = (_sample(ingested, "polling"), _sample(duplicate, "polling"))
    ingest = IngestUpdate(inbox, PrometheusMetrics())

    await ingest(17, upd(17), 1, "polling")
    await ingest(17, upd(17), 1, "polling")
    await ingest(18, upd(18), 1, "polling")

    after = (_sample(ingested, "polling"), _sample(duplicate, "polling"))
    assert (after[0] - before[0], after[1] - before[1]) == (2.0, 1.0)
