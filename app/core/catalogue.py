"""Every provider fact, declared once. The CLI, the window, the README and the tests read this table.

Adding a provider: one adapter module under `app/core/providers/` plus one entry here (see README).

Named OpenAI-compatible instances ("LM Studio on this machine", "OpenRouter") are entries too: the user's
definitions (`OpenAIInstance`, saved under the settings key `providers.openai_instances`) become entries
`openai:<slug>` made from the `openai` entry by `instance_entry()`, and `register_instances()` puts them in
`CATALOGUE`. Everything that reads the catalogue (the registry, limits, the panel, Settings, the CLI, usage
and cost) then treats an instance like any provider. Read the names with `provider_names()` at run time.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

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
        """The start of this provider's environment variables: `GROQ`, `OPENAI_LM_STUDIO` for
        `openai:lm-studio` (anything but a letter or digit becomes `_`)."""
        return re.sub(r"[^A-Z0-9]+", "_", self.name.upper()).strip("_")


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

# The built-in providers (fixed). Named instances come and go at run time: read `provider_names()`.
PROVIDER_NAMES: tuple[str, ...] = tuple(CATALOGUE)
BUILTIN: Mapping[str, ProviderCatalogEntry] = dict(CATALOGUE)


def provider_names() -> tuple[str, ...]:
    """Every provider known now: the built-in ones, then the registered named instances."""
    return tuple(CATALOGUE)


def catalogue_entry(name: str) -> ProviderCatalogEntry:
    """The entry for `name`, or INVALID_REQUEST naming the valid providers."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise LLMProviderError(
            ErrorCode.INVALID_REQUEST,
            f"Unknown provider '{name}'. Choose one of: {', '.join(provider_names())}.",
            provider=None,
        ) from None


# --- named OpenAI-compatible instances ----------------------------------------------------------------------

INSTANCES_KEY = "providers.openai_instances"  # the settings key holding the user's instances (a JSON list)
INSTANCE_BASE = "openai"
# Must match app.store.preferences.INSTANCE_PATTERN (what the preference accepts); a test holds them together.
INSTANCE_ID = re.compile(r"openai:[a-z0-9][a-z0-9-]{0,39}")
_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True, slots=True)
class OpenAIInstance:
    """One server the user added under a name of their own; `id` is `openai:<slug>`."""

    id: str
    label: str
    base_url: str
    model: str
    needs_key: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "base_url": self.base_url,
            "model": self.model,
            "needs_key": self.needs_key,
        }


def instance_id(label: str, taken: Iterable[str] = ()) -> str:
    """A new id for an instance named `label`: "LM Studio" -> `openai:lm-studio`, with `-2`, `-3`... when the
    id is `taken` (by another instance or a built-in provider)."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:32].strip("-") or "server"
    taken = set(taken)
    candidate, n = f"{INSTANCE_BASE}:{slug}", 2
    while candidate in taken:
        candidate, n = f"{INSTANCE_BASE}:{slug}-{n}", n + 1
    return candidate


def is_loopback(url: str) -> bool:
    """Does `url` point at this computer (localhost, 127.0.0.0/8, ::1)?"""
    host = (urlsplit(url).hostname or "").lower()
    if host in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def instance_entry(instance: OpenAIInstance) -> ProviderCatalogEntry:
    """The catalogue entry of a named instance, made from the `openai` entry: the user's name as label, the
    instance's URL and model as defaults, Local (prompts stay here, no limit by default, like Ollama) when
    the host is this computer, else Cloud with the `openai` entry's limit."""
    base = BUILTIN[INSTANCE_BASE]
    local = is_loopback(instance.base_url)
    host = urlsplit(instance.base_url).netloc or instance.base_url
    prefix = re.sub(r"[^A-Z0-9]+", "_", instance.id.upper()).strip("_")
    return replace(
        base,
        name=instance.id,
        label=instance.label,
        deployment="Local" if local else "Cloud",
        tagline=f"OpenAI-compatible server at {host}",
        default_model=instance.model or base.default_model,
        model_env=f"{prefix}_MODEL",
        key_envs=(f"{prefix}_API_KEY",) if instance.needs_key else (),
        base_url_env=f"{prefix}_BASE_URL",
        default_base_url=instance.base_url,
        key_url=None,
        leaves_machine=not local,
        rate_limit=RateLimitDefaults(enabled=False, requests_per_minute=60) if local else base.rate_limit,
    )


def parse_instances(saved: Any, warnings: list[str] | None = None) -> list[OpenAIInstance]:
    """The instances saved under `providers.openai_instances`; unreadable or duplicate items are skipped
    (with a warning), never fatal."""
    warnings = warnings if warnings is not None else []
    items = saved if isinstance(saved, list) else []
    if saved is not None and not isinstance(saved, list):
        warnings.append(f"Ignoring the saved OpenAI-compatible servers: not a list ({str(saved)[:60]}).")
    instances: list[OpenAIInstance] = []
    seen: set[str] = set(BUILTIN)
    for item in items:
        if not isinstance(item, Mapping):
            warnings.append(f"Ignoring a saved OpenAI-compatible server that is not an entry: {item!r}.")
            continue
        ident = str(item.get("id") or "").strip().lower()
        label = str(item.get("label") or "").strip()
        base_url = str(item.get("base_url") or "").strip()
        if not INSTANCE_ID.fullmatch(ident) or ident in seen or not label:
            warnings.append(
                f"Ignoring a saved OpenAI-compatible server with a bad or repeated id: {ident!r}."
            )
            continue
        if not base_url.lower().startswith(("http://", "https://")):
            warnings.append(f"Ignoring the OpenAI-compatible server {label!r}: its URL is not http(s).")
            continue
        seen.add(ident)
        instances.append(
            OpenAIInstance(
                ident, label, base_url, str(item.get("model") or "").strip(), bool(item.get("needs_key"))
            )
        )
    return instances


def register_instances(instances: Iterable[OpenAIInstance]) -> None:
    """Make `instances` the named instances in CATALOGUE (replacing those registered before)."""
    entries = [instance_entry(instance) for instance in instances]
    for name in [n for n in CATALOGUE if n not in BUILTIN]:
        del CATALOGUE[name]
    for entry in entries:
        if entry.name not in BUILTIN:
            CATALOGUE[entry.name] = entry


def registered_instances() -> tuple[str, ...]:
    return tuple(name for name in CATALOGUE if name not in BUILTIN)


def markdown_table() -> str:
    """The README's provider table, generated from the catalogue (a test keeps the README in step)."""
    lines = [
        "| Provider | Where it runs | Default model | Key | Model / host override | Default limit |",
        "|---|---|---|---|---|---|",
    ]
    for entry in BUILTIN.values():
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
