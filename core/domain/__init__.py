"""Domain types: users, catalog, jobs and the money ledger."""
