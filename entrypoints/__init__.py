"""Entrypoints: the runtimes (polling, webhook, CLI) and their composition roots."""
