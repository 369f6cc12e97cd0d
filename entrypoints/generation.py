"""Choosing the GenerationPort adapter for the configured KIE mode."""

from __future__ import annotations

from datetime import timedelta

import httpx

from adapters.generation.stub import StubGeneration
from adapters.generation.stub_upload import StubUploader
from adapters.kie.client import HttpxKieClient, KieTimeouts
from adapters.kie.generation import KieGeneration
from core.domain.catalog import Catalog
from core.ports.clock import Clock
from core.ports.generation import GenerationPort
from core.ports.provider import MediaUploader
from entrypoints.settings import ConfigError, Settings


def make_generation(
    settings: Settings,
    clock: Clock,
    catalog: Catalog | None = None,
    http: httpx.AsyncClient | None = None,
) -> GenerationPort:
    if settings.generation_mode == "stub":
        return StubGeneration(clock, timedelta(seconds=settings.kie_stub_delay_seconds))
    if settings.kie_api_key is None:
        raise ConfigError(["KIE_API_KEY: required when KIE_MODE=real"])
    if catalog is None:
        raise ConfigError(["KIE_MODE: the real Kie.ai client needs the model catalog"])
    client = HttpxKieClient(
        http or httpx.AsyncClient(follow_redirects=False),
        settings.kie_api_key.get_secret_value(),
        api_base=settings.kie_api_base,
        upload_base=settings.kie_upload_base,
        timeouts=KieTimeouts(
            create=settings.kie_create_timeout_seconds,
            query=settings.kie_query_timeout_seconds,
            upload=settings.kie_upload_timeout_seconds,
        ),
    )
    return KieGeneration(client, catalog)


def make_uploader(generation: GenerationPort) -> MediaUploader:
    """Kie.ai's file upload in real mode (the same client); an in-process stand-in offline."""
    if isinstance(generation, MediaUploader):
        return generation
    return StubUploader()
