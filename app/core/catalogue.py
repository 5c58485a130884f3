"""Every provider fact, declared once. The CLI, the window, the README and the tests read this table.

Adding a provider: one adapter module under `app/core/providers/` plus one entry here (see README).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import ErrorCode, LLMProviderError


@dataclass(frozen=True, slots=True)
class RateLimitDefaults:
    enabled: bool
    requests_per_minute: int
    seconds_per_request: float | None = None
    tokens_per_minute: int | None = None
    requests_per_day: int | None = None


@dataclass(frozen=True, slots=True)
class ProviderCatalogEntry:
    name: str  # the id stored in SQLite and used on the command line
    label: str  # "Groq"
    deployment: str  # "Local" or "Cloud"
    tagline: str  # what tells it apart, one short phrase
    adapter: str  # "module:Class", imported on first use so start-up never pays for an SDK
    default_model: str
    model_env: str
    key_envs: tuple[str, ...]  # first one is the one we name to the user; empty for keyless providers
    base_url_env: str
    default_base_url: str | None
    key_url: str | None  # where to get a key
    leaves_machine: bool  # do prompts leave this computer?
    rate_limit: RateLimitDefaults
    limits_per_model: bool  # the provider counts limits per model (so the panel shows a row per model)
    daily_reset_timezone: str | None = None  # where a per-day quota resets at local midnight, if documented

    @property
    def display_name(self) -> str:
        return f"{self.label} ({self.deployment})"

    @property
    def dropdown_text(self) -> str:
        return f"{self.display_name} — {self.tagline}"

    @property
    def needs_key(self) -> bool:
        return bool(self.key_envs)

    @property
    def env_prefix(self) -> str:
        return self.name.upper()


CATALOGUE: dict[str, ProviderCatalogEntry] = {
    entry.name: entry
    for entry in (
        ProviderCatalogEntry(
            name="ollama",
            label="Ollama",
            deployment="Local",
            tagline="free, unlimited, private: prompts never leave this computer",
            adapter="app.core.providers.ollama:OllamaProvider",
            default_model="llama3.2",
            model_env="OLLAMA_MODEL",
            key_envs=(),
            base_url_env="OLLAMA_HOST",
            default_base_url="http://127.0.0.1:11434",
            key_url=None,
            leaves_machine=False,
            rate_limit=RateLimitDefaults(enabled=False, requests_per_minute=60),
            limits_per_model=False,
        ),
        ProviderCatalogEntry(
            name="gemini",
            label="Gemini",
            deployment="Cloud",
            tagline="Google AI free tier, small daily quota",
            adapter="app.core.providers.gemini:GeminiProvider",
            default_model="gemini-2.5-flash",
            model_env="GEMINI_MODEL",
            key_envs=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            base_url_env="GOOGLE_GEMINI_BASE_URL",
            default_base_url=None,
            key_url="https://aistudio.google.com/apikey",
            leaves_machine=True,
            rate_limit=RateLimitDefaults(enabled=True, requests_per_minute=1),
            limits_per_model=True,
            daily_reset_timezone="America/Los_Angeles",
        ),
        ProviderCatalogEntry(
            name="groq",
            label="Groq",
            deployment="Cloud",
            tagline="ultra-fast, free tier with per-minute and daily limits",
            adapter="app.core.providers.groq:GroqProvider",
            default_model="llama-3.3-70b-versatile",
            model_env="GROQ_MODEL",
            key_envs=("GROQ_API_KEY",),
            base_url_env="GROQ_BASE_URL",
            default_base_url=None,
            key_url="https://console.groq.com/keys",
            leaves_machine=True,
            rate_limit=RateLimitDefaults(enabled=True, requests_per_minute=2),
            limits_per_model=True,
        ),
        ProviderCatalogEntry(
            name="openai",
            label="OpenAI-compatible",
            deployment="Cloud",
            tagline="OpenAI, or any server that speaks its API (OpenRouter, vLLM, LM Studio, llama.cpp)",
            adapter="app.core.providers.openai_compat:OpenAICompatibleProvider",
            default_model="gpt-4o-mini",
            model_env="OPENAI_MODEL",
            key_envs=("OPENAI_API_KEY",),
            base_url_env="OPENAI_BASE_URL",
            default_base_url="https://api.openai.com/v1",
            key_url="https://platform.openai.com/api-keys",
            leaves_machine=True,
            rate_limit=RateLimitDefaults(enabled=True, requests_per_minute=3),
            limits_per_model=True,
        ),
        ProviderCatalogEntry(
            name="anthropic",
            label="Anthropic",
            deployment="Cloud",
            tagline="Claude models, per-minute limits reported on every reply",
            adapter="app.core.providers.anthropic:AnthropicProvider",
            default_model="claude-sonnet-4-5",
            model_env="ANTHROPIC_MODEL",
            key_envs=("ANTHROPIC_API_KEY",),
            base_url_env="ANTHROPIC_BASE_URL",
            default_base_url="https://api.anthropic.com",
            key_url="https://console.anthropic.com/settings/keys",
            leaves_machine=True,
            rate_limit=RateLimitDefaults(enabled=True, requests_per_minute=5),
            limits_per_model=True,
        ),
    )
}

PROVIDER_NAMES: tuple[str, ...] = tuple(CATALOGUE)


def catalogue_entry(name: str) -> ProviderCatalogEntry:
    """The entry for `name`, or INVALID_REQUEST naming the valid providers."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise LLMProviderError(
            ErrorCode.INVALID_REQUEST,
            f"Unknown provider '{name}'. Choose one of: {', '.join(PROVIDER_NAMES)}.",
            provider=None,
        ) from None


def markdown_table() -> str:
    """The README's provider table, generated from the catalogue (a test keeps the README in step)."""
    lines = [
        "| Provider | Where it runs | Default model | Key | Model / host override | Default limit |",
        "|---|---|---|---|---|---|",
    ]
    for entry in CATALOGUE.values():
        key = " or ".join(f"`{v}`" for v in entry.key_envs) or "none"
        limit = entry.rate_limit
        limit_text = f"{limit.requests_per_minute}/min" if limit.enabled else "off"
        private = "" if entry.leaves_machine else " (prompts stay on this computer)"
        lines.append(
            f"| {entry.label} | {entry.deployment}{private} | `{entry.default_model}` | {key} | "
            f"`{entry.model_env}`, `{entry.base_url_env}` | {limit_text} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
