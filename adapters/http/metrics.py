"""Prometheus metrics of the update pipeline (process-wide, like the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
UPDATES_PARKED = Counter("kiebot_updates_parked_total", "Updates given up on (see /parked)")
INBOX_DEPTH = Gauge("kiebot_inbox_depth", "Pending updates in the inbox (last snapshot)")
