"""PostgreSQL: the storage adapter, its migrations and the embedded server for local runs."""

from adapters.postgres.embedded import EmbeddedServer, database_url_or_embedded, start_embedded
from adapters.postgres.errors import DatabaseUnavailable, check_database
from adapters.postgres.migrations import MigrationError, apply_migrations, run_migrate
from adapters.postgres.pool import open_pool, postgres_storage
from adapters.postgres.storage import PostgresStorage

__all__ = [
    "DatabaseUnavailable",
    "EmbeddedServer",
    "MigrationError",
    "PostgresStorage",
    "apply_migrations",
    "check_database",
    "database_url_or_embedded",
    "open_pool",
    "postgres_storage",
    "run_migrate",
    "start_embedded",
]
