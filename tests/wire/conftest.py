"""Over-the-wire tests: real ``kiebot`` processes on PostgreSQL against HTTP fakes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import PgCluster, migrated_template, pg_cluster, pg_url
from tests.wire.stack import Stack

__all__ = ["migrated_template", "pg_cluster", "pg_url"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/wire/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module", params=["polling", "webhook"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def stack(mode: str, pg_cluster: PgCluster, migrated_template: str) -> Iterator[Stack]:
    """One bot per module and mode (start-up is the slow part); tests use their own users."""
    name = pg_cluster.create_database(template=migrated_template)
    running = Stack(mode, pg_cluster.url(name))
    try:
        yield running.start()
    finally:
        running.close()
        pg_cluster.drop_database(name)
