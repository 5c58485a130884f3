"""Fixtures for the shared adapter suite: every test that takes `target` runs once per provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from app.core.providers import create_provider
from app.core.providers.base import LLMProvider
from app.core.ratelimit.clock import Clock
from tests.core.providers.adapter_targets import TARGETS, Target
from tests.emulator import Emulator


@pytest.fixture(params=TARGETS, ids=[t.name for t in TARGETS])
def target(request: pytest.FixtureRequest) -> Target:
    target: Target = request.param
    return target


MakeProvider = Callable[..., LLMProvider]


@pytest.fixture
async def make_provider(target: Target, emulator: Emulator) -> AsyncIterator[MakeProvider]:
    """Build the target's adapter against the emulator (settings overridable); all closed after the test."""
    target.arm(emulator)
    made: list[LLMProvider] = []

    def make(clock: Clock | None = None, **overrides: Any) -> LLMProvider:
        provider = create_provider(target.name, target.settings(emulator, **overrides), clock=clock)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


@pytest.fixture
def provider(make_provider: MakeProvider) -> LLMProvider:
    return make_provider()
