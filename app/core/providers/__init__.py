"""The provider registry. Adapters are imported on first use so that start-up never pays for an SDK."""

from __future__ import annotations

import importlib

from app.core.catalogue import catalogue_entry
from app.core.config import ProviderSettings
from app.core.providers.base import LLMProvider
from app.core.ratelimit.clock import Clock


def provider_class(name: str) -> type[LLMProvider]:
    entry = catalogue_entry(name)  # unknown names raise INVALID_REQUEST naming the valid ones
    module_name, _, class_name = entry.adapter.partition(":")
    cls: type[LLMProvider] = getattr(importlib.import_module(module_name), class_name)
    return cls


def create_provider(name: str, settings: ProviderSettings, *, clock: Clock | None = None) -> LLMProvider:
    return provider_class(name)(settings, clock=clock)


__all__ = ["LLMProvider", "create_provider", "provider_class"]
