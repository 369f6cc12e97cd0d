"""Integration tests run against real PostgreSQL (TEST_DATABASE_URL or the embedded server)."""

from tests.pg import empty_pg_url, migrated_template, pg_cluster, pg_storage, pg_url

__all__ = ["empty_pg_url", "migrated_template", "pg_cluster", "pg_storage", "pg_url"]
