"""What the shared adapter suite needs to know about each provider: one `Target` per adapter.

Adding a provider to the suite = one more `Target` here (and the emulator side of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.catalogue import catalogue_entry
from app.core.config import ProviderSettings
from tests.emulator import Emulator, RecordedRequest

# Recognisable fake keys, the only keys the emulator accepts in this suite: they must never appear in an
# error's text, detail or repr, nor in any log line. Deliberately not shaped like any real provider's key.
FAKE_KEYS = {
    "groq": "sw-fake-groq-key-not-for-logs-7731",
    "gemini": "sw-fake-gemini-key-not-for-logs-7731",
    "openai": "sw-fake-openai-key-not-for-logs-7731",
    "anthropic": "sw-fake-anthropic-key-not-for-logs-7731",
}
WRONG_KEY = "sw-wrong-key-not-for-logs-4410"


@dataclass(frozen=True)
class Target:
    name: str
    generation_paths: tuple[str, ...]  # fragments of the generation requests' paths (plain, streamed)
    needs_key: bool
    supports: frozenset[str]  # which emulator faults / behaviours this provider has
    base_path: str = ""  # where the emulator serves this wire format, appended to its URL
    bad_key_status: int = 401
    statuses: tuple[tuple[str, int], ...] = ()  # a fault's status where it differs from the usual one

    def status_for(self, fault: str, usual: int) -> int:
        return dict(self.statuses).get(fault, usual)

    @property
    def label(self) -> str:
        return catalogue_entry(self.name).label

    @property
    def model(self) -> str:
        return catalogue_entry(self.name).default_model

    @property
    def key_env(self) -> str | None:
        envs = catalogue_entry(self.name).key_envs
        return envs[0] if envs else None

    @property
    def key(self) -> str | None:
        return FAKE_KEYS.get(self.name)

    def arm(self, emu: Emulator) -> None:
        """Make the emulator accept this suite's fake key."""
        if self.name in FAKE_KEYS:
            setattr(emu, f"{self.name}_key", FAKE_KEYS[self.name])

    def settings(self, emu: Emulator, **overrides: Any) -> ProviderSettings:
        values: dict[str, Any] = {
            "name": self.name,
            "model": self.model,
            "api_key": self.key,
            "key_source": self.key_env,
            "base_url": emu.url + self.base_path,
            "timeout_s": 10.0,
            "connect_timeout_s": 2.0,
        }
        values.update(overrides)
        return ProviderSettings(**values)

    def generation_requests(self, emu: Emulator) -> list[RecordedRequest]:
        return [r for r in emu.requests_for(self.name) if any(p in r.path for p in self.generation_paths)]

    def sent_body(self, emu: Emulator) -> dict[str, Any]:
        requests = self.generation_requests(emu)
        assert requests, f"the emulator saw no {self.name} generation request"
        body = requests[-1].body
        assert isinstance(body, dict)
        return body


COMMON = frozenset({"model_not_found", "rate_limit", "server_error", "overloaded", "bad_gateway",
                    "gateway_timeout", "error_in_stream", "drop_connection", "slow", "length"})  # fmt: skip

TARGETS = (
    Target("ollama", ("/api/chat",), needs_key=False, supports=COMMON),
    Target(
        "gemini",
        (":generateContent", ":streamGenerateContent"),
        needs_key=True,
        supports=COMMON | {"bad_key", "daily_quota", "limit_zero", "blocked_prompt"},
        bad_key_status=400,  # Gemini: 400 INVALID_ARGUMENT
    ),
    Target(
        "groq",
        ("/chat/completions",),
        needs_key=True,
        supports=COMMON | {"bad_key", "daily_quota", "too_large", "flex", "rate_limit_headers"},
    ),
    Target(
        "openai",
        ("/chat/completions",),
        needs_key=True,
        supports=COMMON | {"bad_key", "insufficient_quota", "context_length", "rate_limit_headers"},
        base_path="/openai-compat/v1",
    ),
    Target(
        "anthropic",
        ("/v1/messages",),
        needs_key=True,
        supports=COMMON | {"bad_key", "rate_limit_headers"},
        base_path="/anthropic",
        statuses=(("overloaded", 529),),  # Anthropic's overloaded_error
    ),
)
