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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run a test only for the providers it applies to (markers `feature` and `only`): nothing is skipped.

    `feature("fault")` names a test parameter whose value is the feature, for tests parametrized over them.
    """
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        target = params.get("target")
        applies = not isinstance(target, Target) or (
            all(params.get(m.args[0], m.args[0]) in target.supports for m in item.iter_markers("feature"))
            and all(m.args[0] == target.name for m in item.iter_markers("only"))
        )
        (keep if applies else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


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
