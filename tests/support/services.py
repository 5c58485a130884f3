"""A factory fixture for real ScriptServices over one data dir, closed after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from app.core.service import ScriptService
from app.store import Store

ServiceFactory = Callable[..., ScriptService]


@pytest.fixture
async def make_service(app_env: dict[str, str], tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    """`make(**env)` builds a service over the test's data dir; several share it, like restarts."""
    services: list[ScriptService] = []

    def make(**env: str) -> ScriptService:
        store = Store.open(tmp_path / "data" / "scriptwright.db")
        service = ScriptService(store, {**app_env, "SCRIPTWRIGHT_RETRY_BUDGET_SECONDS": "120", **env})
        services.append(service)
        return service

    yield make
    for service in services:
        await service.aclose()
        service.store.close()
