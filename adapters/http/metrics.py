"""Prometheus metrics of the update pipeline (process-wide, like the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from core.ports.metrics import MetricsPort, UpdateOrigin

UPDATES_INGESTED = Counter(
    "kiebot_updates_ingested_total", "Updates stored in the inbox", ["source"]
)
UPDATES_DUPLICATE = Counter(
    "kiebot_updates_duplicate_total", "Deliveries of an update_id already stored", ["source"]
)
UPDATES_REJECTED = Counter(
    "kiebot_webhook_rejected_total", "Webhook requests refused before storing", ["reason"]
)
UPDATES_PROCESSED = Counter("kiebot_updates_processed_total", "Updates handled successfully")
UPDATES_FAILED = Counter("kiebot_updates_failed_total", "Handler attempts that raised")
UPDATES_PARKED = Counter(
    "kiebot_updates_parked_total", "Updates given up on (listed by `kiebot inbox --parked`)"
)
INBOX_DEPTH = Gauge("kiebot_inbox_depth", "Pending updates in the inbox (last snapshot)")


class PrometheusMetrics(MetricsPort):
    """MetricsPort on the process-wide counters above.

    A labelled child is looked up once per source and kept, so counting an update on the hot
    path is a dict hit and an increment. Children are made on first use, not up front, so
    /metrics shows a source only once an update came that way.
    """

    def __init__(self) -> None:
        self._ingested: dict[str, Counter] = {}
        self._duplicate: dict[str, Counter] = {}

    def update_ingested(self, source: UpdateOrigin) -> None:
        child = self._ingested.get(source)
        if child is None:
            child = self._ingested[source] = UPDATES_INGESTED.labels(source)
        child.inc()

    def update_duplicate(self, source: UpdateOrigin) -> None:
        child = self._duplicate.get(source)
        if child is None:
            child = self._duplicate[source] = UPDATES_DUPLICATE.labels(source)
        child.inc()

    def update_processed(self) -> None:
        UPDATES_PROCESSED.inc()

    def update_failed(self) -> None:
        UPDATES_FAILED.inc()

    def update_parked(self) -> None:
        UPDATES_PARKED.inc()
