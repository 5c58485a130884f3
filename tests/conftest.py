"""Shared fixtures: the provider emulator, and an environment that points the app at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.catalogue import CATALOGUE, register_instances
from tests.emulator import Emulator

pytest_plugins = ["tests.emulator.pytest_plugin", "tests.support.services"]

# Names the app reads from the environment; cleared so a developer's own settings never leak into a test.
_APP_ENV_NAMES = {
    "LLM_PROVIDER",
    "SCRIPTWRIGHT_DATA_DIR",
    "GOOGLE_API_KEY",
    "SCRIPTWRIGHT_RETRY_BUDGET_SECONDS",
    "SCRIPTWRIGHT_CACHE_TTL_HOURS",
    "SCRIPTWRIGHT_FALLBACK_CHAIN",
    *(
        name
        for entry in CATALOGUE.values()
        for name in (*entry.key_envs, entry.model_env, entry.base_url_env)
    ),
    *(
        f"{entry.env_prefix}_RATE_LIMIT_{suffix}"
        for entry in CATALOGUE.values()
        for suffix in (
            "ENABLED",
            "REQUESTS_PER_MINUTE",
            "SECONDS_PER_REQUEST",
            "TOKENS_PER_MINUTE",
            "REQUESTS_PER_DAY",
        )
    ),
}


def emulator_env(emu: Emulator, data_dir: Path) -> dict[str, str]:
    """The variables that send all three providers to the emulator, with client-side limits off."""
    return {
        "SCRIPTWRIGHT_DATA_DIR": str(data_dir),
        "GROQ_API_KEY": emu.groq_key,
        "GROQ_BASE_URL": emu.url,
        "GEMINI_API_KEY": emu.gemini_key,
        "GOOGLE_GEMINI_BASE_URL": emu.url,
        "OLLAMA_HOST": emu.url,
        "GROQ_RATE_LIMIT_ENABLED": "false",
        "GEMINI_RATE_LIMIT_ENABLED": "false",
        "OLLAMA_RATE_LIMIT_ENABLED": "false",
        # Never touch a real keychain from a test: the null backend makes the key store use its file.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }


@pytest.fixture(autouse=True)
def _builtin_catalogue() -> Iterator[None]:
    """A service registers the named instances it finds in the catalogue (process-wide): forget them after
    each test."""
    yield
    register_instances(())


@pytest.fixture
def app_env(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """os.environ pointing the app at the emulator and a fresh data dir; returns the variables set."""
    for name in _APP_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    env = emulator_env(emulator, tmp_path / "data")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env
