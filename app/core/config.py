"""Configuration: environment (with .env / .env.local files beneath it) and per-provider settings.

Precedence for a provider setting: a value saved in the app (SQLite settings, or the keychain for keys) >
the real environment > `.env.local` > `.env` > the catalogue default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.catalogue import ProviderCatalogEntry, catalogue_entry

# Keys people paste from templates and docs; refused before any request is sent.
_PLACEHOLDER_KEYS = frozenset(
    {
        "",
        "your_key_here",
        "your_api_key_here",
        "your-api-key",
        "your_api_key",
        "api_key_here",
        "changeme",
        "xxx",
        "none",
        "null",
        "test",
    }
)

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0


def is_placeholder_key(key: str | None) -> bool:
    if key is None:
        return True
    normalised = key.strip().lower()
    return (
        normalised in _PLACEHOLDER_KEYS
        or normalised.startswith(("your_", "your-", "<"))
        or set(normalised) <= {"x", "*"}
    )


def load_environment(
    directories: tuple[Path, ...] = (), environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment merged over `.env` then `.env.local` of each directory; the real environment wins."""
    from dotenv import dotenv_values

    merged: dict[str, str] = {}
    for directory in directories:
        for name in (".env", ".env.local"):
            path = directory / name
            if path.is_file():
                merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Everything an adapter needs to talk to its provider."""

    name: str
    model: str
    api_key: str | None = None
    key_source: str | None = (
        None  # an env var name, "keychain" or "file": where the key came from, never the key
    )
    base_url: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S

    @property
    def entry(self) -> ProviderCatalogEntry:
        return catalogue_entry(self.name)

    def __repr__(self) -> str:  # never show the key
        return (
            f"ProviderSettings(name={self.name!r}, model={self.model!r}, key_source={self.key_source!r}, "
            f"base_url={self.base_url!r}, timeout_s={self.timeout_s})"
        )


def resolve_provider_settings(
    name: str,
    env: Mapping[str, str],
    saved: Mapping[str, Any] | None = None,
    saved_key: tuple[str, str] | None = None,
) -> ProviderSettings:
    """Settings for provider `name`.

    `saved` holds what the settings dialog stored (keys: model, base_url, timeout_s);
    `saved_key` is (key, source) from the keychain or key file.
    """
    entry = catalogue_entry(name)
    saved = saved or {}
    api_key, key_source = saved_key if saved_key else (None, None)
    if api_key is None:
        for var in entry.key_envs:
            if env.get(var):
                api_key, key_source = env[var], var
                break
    model = saved.get("model") or env.get(entry.model_env) or entry.default_model
    base_url = saved.get("base_url") or env.get(entry.base_url_env) or entry.default_base_url
    timeout_s = _positive_float(saved.get("timeout_s"), DEFAULT_TIMEOUT_S)
    return ProviderSettings(
        name=name,
        model=str(model),
        api_key=api_key,
        key_source=key_source,
        base_url=str(base_url) if base_url else None,
        timeout_s=timeout_s,
    )


def _positive_float(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default
