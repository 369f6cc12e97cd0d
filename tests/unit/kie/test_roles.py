"""Each provider role is its own port with its own provider in the container."""

from __future__ import annotations

from adapters.generation.kie import KieGeneration
from adapters.generation.stub import StubGeneration
from adapters.generation.stub_upload import StubUploader
from adapters.kie.account import KieAccount
from adapters.kie.uploader import KieUploader
from tests.conftest import BotHarness


def test_stub_mode_has_the_offline_generation_and_uploader_and_no_account() -> None:
    adapters = BotHarness().container.adapters
    assert adapters.kie_client() is None
    assert isinstance(adapters.generation(), StubGeneration)
    assert isinstance(adapters.uploader(), StubUploader)
    assert adapters.account() is None


def test_real_mode_shares_one_kie_client_across_the_three_roles() -> None:
    container = BotHarness(kie_mode="real", kie_api_key="test-key").container
    adapters = container.adapters
    client = adapters.kie_client()
    assert client is not None
    assert isinstance(adapters.generation(), KieGeneration)
    assert isinstance(adapters.uploader(), KieUploader)
    assert isinstance(adapters.account(), KieAccount)
    services = container.services()
    assert services.account is adapters.account()
    assert services.uploader is adapters.uploader()
