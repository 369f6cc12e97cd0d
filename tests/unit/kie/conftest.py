"""Kie.ai adapter tests: respx at the HTTP edge, stamina's backoff switched off."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx
import stamina

from adapters.kie.client import HttpxKieClient
from adapters.kie.limiter import SlidingWindowLimiter

API = "https://kie.test"
UPLOAD = "https://upload.kie.test"


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


@pytest.fixture
def kie() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def envelope(code: int = 200, data: object = None, msg: str = "success") -> dict[str, object]:
    return {"code": code, "msg": msg, "data": data}


def make_client(**kwargs: object) -> HttpxKieClient:
    return HttpxKieClient(
        httpx.AsyncClient(),
        "test-key",
        api_base=API,
        upload_base=UPLOAD,
        limiter=kwargs.pop("limiter", SlidingWindowLimiter()),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )
