"""In-memory adapters with the same semantics as the real ones (tests, offline runs)."""
