"""A service with the settings dialog's contract over a REAL store, and a key store on a memory keyring."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.config import ProviderSettings
from app.core.errors import ErrorCode, LLMProviderError
from app.core.keys import KeyStore
from app.core.ratelimit.snapshot import LimitSource, RateLimitSnapshot, Window, WindowLimit
from app.core.types import HealthReport, ModelInfo
from app.store import Store
from tests.support.memory_keyring import MemoryKeyring

MODELS = {
    "ollama": ["llama3.2", "qwen2.5:7b", "mistral"],
    "gemini": ["gemini-2.5-flash", "gemini-2.5-pro"],
    "groq": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant", "openai/gpt-oss-20b"],
}


class FakeSettingsService:
    """Like ScriptService: `store`, `env`, `state`, `current_provider()`, `list_models`, `health`,
    `apply_settings`."""

    def __init__(self, store: Store, env: dict[str, str] | None = None, state: Any = None) -> None:
        self.store = store
        self.env = dict(env or {})
        self.state = state
        self.applied = 0
        self.model_calls: list[tuple[str, ProviderSettings]] = []
        self.health_calls: list[tuple[str, ProviderSettings]] = []
        self.fail_models: dict[str, LLMProviderError] = {}
        self.model_gate: asyncio.Event | None = None  # set it to hold list_models until released
        self.health_report: Callable[[str, ProviderSettings], HealthReport] = groq_health

    def current_provider(self) -> str:
        return self.store.get_default_provider()

    async def list_models(self, provider: str, settings: ProviderSettings | None = None) -> list[ModelInfo]:
        assert settings is not None
        self.model_calls.append((provider, settings))
        if self.model_gate is not None:
            await self.model_gate.wait()
        else:
            await asyncio.sleep(0.01)
        if provider in self.fail_models:
            raise self.fail_models[provider]
        return [ModelInfo(id=m) for m in MODELS[provider]]

    async def health(self, provider: str, settings: ProviderSettings | None = None) -> HealthReport:
        assert settings is not None
        self.health_calls.append((provider, settings))
        await asyncio.sleep(0.01)
        return self.health_report(provider, settings)

    def apply_settings(self) -> None:
        self.applied += 1


def groq_health(provider: str, settings: ProviderSettings) -> HealthReport:
    seen = 1_800_000_000.0
    limits = RateLimitSnapshot(
        provider=provider,
        model=settings.model,
        windows=(
            WindowLimit(Window.REQUESTS_PER_DAY, 14_400, 13_990, seen + 60, LimitSource.PROVIDER, seen),
            WindowLimit(Window.TOKENS_PER_MINUTE, 6_000, 5_800, seen + 2, LimitSource.PROVIDER, seen),
        ),
        observed_at=seen,
    )
    return HealthReport(
        provider=provider,
        model=settings.model,
        reachable=True,
        key_accepted=True if provider != "ollama" else None,
        latency_ms=212.4,
        message=f"{provider} answered in 212 ms.",
        rate_limits=limits if provider == "groq" else None,
    )


def auth_failure(provider: str) -> LLMProviderError:
    return LLMProviderError(
        ErrorCode.AUTHENTICATION_FAILED,
        "Groq refused the API key. Check it in Settings → AI Configuration.",
        provider=provider,
    )


def make_fake_service(
    directory: Path, *, env: dict[str, str] | None = None, state: Any = None
) -> tuple[FakeSettingsService, KeyStore]:
    store = Store.open(directory / "scriptwright.db")
    key_store = KeyStore(directory, backend=MemoryKeyring())
    return FakeSettingsService(store, env, state), key_store
