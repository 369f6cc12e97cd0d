"""The provider-side adapters for the configured KIE mode, one per port.

Real mode: one ``HttpxKieClient`` (one create limiter) shared by generation, uploads and the
account balance. Stub mode: no client; the offline generation, the in-process uploader, and no
account.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from adapters.generation.kie import KieGeneration
from adapters.generation.stub import StubGeneration
from adapters.generation.stub_upload import StubUploader
from adapters.kie.account import KieAccount
from adapters.kie.client import HttpxKieClient, KieTimeouts
from adapters.kie.uploader import KieUploader
from core.domain.catalog import Catalog
from core.ports.clock import ClockPort
from core.ports.generation import GenerationPort
from core.ports.provider import AccountPort, UploaderPort
from entrypoints.settings import ConfigError, Settings


def make_kie_client(
    settings: Settings, http: httpx.AsyncClient | None = None
) -> HttpxKieClient | None:
    """The Kie.ai client in real mode, None in stub mode."""
    if settings.generation_mode == "stub":
        return None
    if settings.kie_api_key is None:
        raise ConfigError(["KIE_API_KEY: required when KIE_MODE=real"])
    return HttpxKieClient(
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


def make_generation(
    settings: Settings,
    clock: ClockPort,
    catalog: Catalog | None = None,
    client: HttpxKieClient | None = None,
) -> GenerationPort:
    if client is None:
        if settings.generation_mode != "stub":
            raise ConfigError(["KIE_MODE: the real Kie.ai generation needs the Kie.ai client"])
        return StubGeneration(clock, timedelta(seconds=settings.kie_stub_delay_seconds))
    if catalog is None:
        raise ConfigError(["KIE_MODE: the real Kie.ai client needs the model catalog"])
    return KieGeneration(client, catalog)


def make_uploader(client: HttpxKieClient | None) -> UploaderPort:
    """Kie.ai's file upload in real mode; an in-process stand-in offline."""
    return StubUploader() if client is None else KieUploader(client)


def make_account(client: HttpxKieClient | None) -> AccountPort | None:
    """The Kie.ai account's balance in real mode; no account offline."""
    return None if client is None else KieAccount(client)
