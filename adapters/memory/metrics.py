"""In-memory MetricsPort: counts kept in plain counters a test can read."""

from __future__ import annotations

from collections import Counter

from core.ports.metrics import MetricsPort, UpdateOrigin


class InMemoryMetrics(MetricsPort):
    def __init__(self) -> None:
        self.ingested: Counter[str] = Counter()
        self.duplicate: Counter[str] = Counter()
        self.processed = self.failed = self.parked = 0

    def update_ingested(self, source: UpdateOrigin) -> None:
        self.ingested[source] += 1

    def update_duplicate(self, source: UpdateOrigin) -> None:
        self.duplicate[source] += 1

    def update_processed(self) -> None:
        self.processed += 1

    def update_failed(self) -> None:
        self.failed += 1

    def update_parked(self) -> None:
        self.parked += 1
