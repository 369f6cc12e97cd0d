"""Use cases: small classes that receive ports and do one thing each."""
