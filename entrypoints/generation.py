"""Choosing the GenerationPort adapter for the configured KIE mode."""

from __future__ import annotations

from datetime import timedelta

from adapters.generation.stub import StubGeneration
from core.ports.clock import Clock
from core.ports.generation import GenerationPort
from entrypoints.settings import ConfigError, Settings


def make_generation(settings: Settings, clock: Clock) -> GenerationPort:
    if settings.generation_mode == "stub":
        return StubGeneration(clock, timedelta(seconds=settings.kie_stub_delay_seconds))
    raise ConfigError(
        ["KIE_MODE: the real Kie.ai client is not available in this build; set KIE_MODE=stub"]
    )
