"""Limit, retry, breaker and fallback settings: catalogue defaults < environment < values saved in the app.

Environment, per provider `P` (its `env_prefix`: GROQ, GEMINI, OLLAMA; OPENAI_LM_STUDIO for openai:lm-studio):
  `P_RATE_LIMIT_ENABLED`, `P_RATE_LIMIT_REQUESTS_PER_MINUTE`, `P_RATE_LIMIT_SECONDS_PER_REQUEST`,
  `P_RATE_LIMIT_TOKENS_PER_MINUTE`, `P_RATE_LIMIT_REQUESTS_PER_DAY`.
Global: `SCRIPTWRIGHT_RETRY_BUDGET_SECONDS` (120), `SCRIPTWRIGHT_RETRY_MAX_ATTEMPTS` (4),
  `SCRIPTWRIGHT_BREAKER_FAILURES` (3), `SCRIPTWRIGHT_BREAKER_COOLDOWN_SECONDS` (30),
  `SCRIPTWRIGHT_FALLBACK_CHAIN` (e.g. "groq,gemini,ollama"; empty = no fallback).
Saved settings (SQLite `settings` keys) override the environment: `ratelimit.<provider>.<field>` with the
field names of `RateLimitConfig`, and `ratelimit.retry_budget_seconds`, `ratelimit.retry_max_attempts`,
`ratelimit.breaker_failures`, `ratelimit.breaker_cooldown_seconds`, `ratelimit.fallback_chain`.

An invalid value (text, zero, negative) never stops the app: the default is used and one clear warning
says so.
Each distinct warning is logged once per process; every load returns the full list for the UI to show.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from app.core.catalogue import CATALOGUE, ProviderCatalogEntry, catalogue_entry, provider_names

logger = logging.getLogger(__name__)

SETTINGS_PREFIX = "ratelimit."

DEFAULT_RETRY_BUDGET_S = 120.0
DEFAULT_RETRY_MAX_ATTEMPTS = 4
DEFAULT_BREAKER_FAILURES = 3
DEFAULT_BREAKER_COOLDOWN_S = 30.0

_T = TypeVar("_T")
_TRUE = frozenset({"1", "true", "yes", "on", "enabled"})
_FALSE = frozenset({"0", "false", "no", "off", "disabled"})
_UNSET = frozenset({"", "none", "null", "unset"})


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """What the local limiter enforces for one provider (for each model where limits are per model)."""

    enabled: bool = True
    requests_per_minute: int = 60
    seconds_per_request: float | None = None  # minimum spacing between two requests
    tokens_per_minute: int | None = None
    requests_per_day: int | None = None
    daily_reset_timezone: str | None = None  # None: the day is a rolling 24 h window

    @classmethod
    def from_catalogue(cls, entry: ProviderCatalogEntry) -> RateLimitConfig:
        defaults = entry.rate_limit
        return cls(
            enabled=defaults.enabled,
            requests_per_minute=defaults.requests_per_minute,
            seconds_per_request=defaults.seconds_per_request,
            tokens_per_minute=defaults.tokens_per_minute,
            requests_per_day=defaults.requests_per_day,
            daily_reset_timezone=entry.daily_reset_timezone,
        )

    def __post_init__(self) -> None:
        if self.requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """How long and how often a failed call is tried again (429 per minute, 5xx, network)."""

    budget_seconds: float = DEFAULT_RETRY_BUDGET_S  # total time spent waiting between attempts of one call
    max_attempts: int = DEFAULT_RETRY_MAX_ATTEMPTS  # first attempt included
    base_delay: float = 1.0  # exponential backoff: base * 2**(n-1), capped at max_delay, plus jitter
    max_delay: float = 30.0
    jitter: float = 1.0  # up to this many seconds added at random


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int = DEFAULT_BREAKER_FAILURES  # consecutive transient failures that open the circuit
    cooldown_seconds: float = DEFAULT_BREAKER_COOLDOWN_S  # open -> half-open after this long


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """Everything the guards need, resolved once; `warnings` lists every invalid value that was replaced."""

    limits: Mapping[str, RateLimitConfig] = field(default_factory=dict)
    retry: RetryConfig = RetryConfig()
    breaker: BreakerConfig = BreakerConfig()
    fallback_chain: tuple[str, ...] = ()  # empty: no fallback (the default)
    warnings: tuple[str, ...] = ()

    def fallback_order(self, chosen: str) -> tuple[str, ...]:
        """The providers to try, the user's choice first; just the choice when fallback is off."""
        if not self.fallback_chain:
            return (chosen,)
        return (chosen, *(name for name in self.fallback_chain if name != chosen))

    def limit_for(self, provider: str) -> RateLimitConfig:
        config = self.limits.get(provider)
        return config if config is not None else RateLimitConfig.from_catalogue(catalogue_entry(provider))


class SettingsSource(Protocol):
    """The part of the store the settings read (`app.store`)."""

    def settings_with_prefix(self, prefix: str) -> Mapping[str, Any]: ...


# --- warnings, each logged once -------------------------------------------------------------------------

_logged_warnings: set[str] = set()


def _warn(warnings: list[str], message: str) -> None:
    warnings.append(message)
    if message not in _logged_warnings:
        _logged_warnings.add(message)
        logger.warning("[RateLimitSettings] %s", message)


def forget_logged_warnings() -> None:
    """Let warnings be logged again (tests; a settings dialog that wants to re-announce them)."""
    _logged_warnings.clear()


# --- value parsing ----------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else repr(str(value))


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _parse_positive(value: Any, *, whole: bool) -> tuple[float | None, str | None]:
    """(number, None) or (None, what is wrong with it)."""
    if isinstance(value, bool):
        return None, "is not a positive number"
    try:
        number = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    except ValueError:
        return None, "is not a positive number"
    if not math.isfinite(number) or number <= 0:
        return None, "is not a positive number"
    if whole and not number.is_integer():
        return None, "is not a whole number"
    return number, None


def _is_unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _UNSET)


def _show_default(value: Any) -> str:
    if value is None:
        return "no limit"
    if isinstance(value, tuple):
        return " > ".join(value) if value else "no fallback"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _resolve(
    layers: list[tuple[str, Any]],
    default: _T,
    parse: Callable[[Any], tuple[_T | None, str | None]],
    warnings: list[str],
    *,
    optional: bool = False,
) -> _T | None:
    """Walk layers from the lowest precedence to the highest: the last valid value wins; each invalid one
    warns, naming the value used instead. Each layer is (name shown in the warning, raw value or None).
    """
    result: _T | None = default
    invalid: list[tuple[str, Any, str]] = []
    for name, raw in layers:
        if raw is None:
            continue
        if optional and _is_unset(raw):
            result = None
            continue
        value, problem = parse(raw)
        if problem is not None:
            invalid.append((name, raw, problem))
            continue
        result = value
    for name, raw, problem in invalid:
        _warn(warnings, f"{name}={_show(raw)} {problem}; using {_show_default(result)}.")
    return result


def _bool_parser(raw: Any) -> tuple[bool | None, str | None]:
    value = _parse_bool(raw)
    return (value, None) if value is not None else (None, "is not true or false")


def _int_parser(raw: Any) -> tuple[int | None, str | None]:
    number, problem = _parse_positive(raw, whole=True)
    return (int(number), None) if number is not None else (None, problem)


def _float_parser(raw: Any) -> tuple[float | None, str | None]:
    return _parse_positive(raw, whole=False)


# --- loading ----------------------------------------------------------------------------------------------

_FIELDS: tuple[tuple[str, str], ...] = (
    ("enabled", "ENABLED"),
    ("requests_per_minute", "REQUESTS_PER_MINUTE"),
    ("seconds_per_request", "SECONDS_PER_REQUEST"),
    ("tokens_per_minute", "TOKENS_PER_MINUTE"),
    ("requests_per_day", "REQUESTS_PER_DAY"),
)


def env_var(provider: str, field_name: str) -> str:
    """`GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE` for ("groq", "requests_per_minute")."""
    suffix = dict(_FIELDS)[field_name]
    return f"{catalogue_entry(provider).env_prefix}_RATE_LIMIT_{suffix}"


def settings_key(provider: str, field_name: str) -> str:
    """`ratelimit.groq.requests_per_minute`: the SQLite settings key for one field."""
    return f"{SETTINGS_PREFIX}{provider}.{field_name}"


def load_rate_limit_config(
    provider: str,
    env: Mapping[str, str] | None = None,
    saved: Mapping[str, Any] | None = None,
    warnings: list[str] | None = None,
) -> RateLimitConfig:
    """The limits for `provider`: catalogue default < env < saved (keys `ratelimit.<provider>.<field>`)."""
    env = env or {}
    saved = saved or {}
    warnings = warnings if warnings is not None else []
    base = RateLimitConfig.from_catalogue(catalogue_entry(provider))

    def layers(field_name: str) -> list[tuple[str, Any]]:
        env_name = env_var(provider, field_name)
        key = settings_key(provider, field_name)
        return [(env_name, env.get(env_name)), (f"Saved setting {key}", saved.get(key))]

    enabled = _resolve(layers("enabled"), base.enabled, _bool_parser, warnings)
    rpm = _resolve(layers("requests_per_minute"), base.requests_per_minute, _int_parser, warnings)
    spacing = _resolve(
        layers("seconds_per_request"), base.seconds_per_request, _float_parser, warnings, optional=True
    )
    tpm = _resolve(layers("tokens_per_minute"), base.tokens_per_minute, _int_parser, warnings, optional=True)
    rpd = _resolve(layers("requests_per_day"), base.requests_per_day, _int_parser, warnings, optional=True)
    return replace(
        base,
        enabled=bool(enabled),
        requests_per_minute=int(rpm or base.requests_per_minute),
        seconds_per_request=spacing,
        tokens_per_minute=tpm,
        requests_per_day=rpd,
    )


def _chain_parser(raw: Any) -> tuple[tuple[str, ...] | None, str | None]:
    items = raw if isinstance(raw, list | tuple) else str(raw).replace(">", ",").split(",")
    names = tuple(dict.fromkeys(str(item).strip().lower() for item in items if str(item).strip()))
    unknown = [name for name in names if name not in CATALOGUE]
    if unknown:
        return (
            None,
            f"names unknown providers ({', '.join(unknown)}; choose from {', '.join(provider_names())})",
        )
    return names, None


def load_guard_settings(
    env: Mapping[str, str] | None = None,
    saved: Mapping[str, Any] | SettingsSource | None = None,
) -> GuardSettings:
    """Resolve every guard setting. `saved` is a mapping of settings keys, or the store itself."""
    env = env or {}
    if saved is not None and not isinstance(saved, Mapping):
        saved = saved.settings_with_prefix(SETTINGS_PREFIX)
    saved = saved or {}
    warnings: list[str] = []
    limits = {name: load_rate_limit_config(name, env, saved, warnings) for name in provider_names()}

    def layers(env_name: str, key: str) -> list[tuple[str, Any]]:
        return [
            (env_name, env.get(env_name)),
            (f"Saved setting {SETTINGS_PREFIX}{key}", saved.get(SETTINGS_PREFIX + key)),
        ]

    budget = _resolve(
        layers("SCRIPTWRIGHT_RETRY_BUDGET_SECONDS", "retry_budget_seconds"),
        DEFAULT_RETRY_BUDGET_S,
        _float_parser,
        warnings,
    )
    attempts = _resolve(
        layers("SCRIPTWRIGHT_RETRY_MAX_ATTEMPTS", "retry_max_attempts"),
        DEFAULT_RETRY_MAX_ATTEMPTS,
        _int_parser,
        warnings,
    )
    failures = _resolve(
        layers("SCRIPTWRIGHT_BREAKER_FAILURES", "breaker_failures"),
        DEFAULT_BREAKER_FAILURES,
        _int_parser,
        warnings,
    )
    cooldown = _resolve(
        layers("SCRIPTWRIGHT_BREAKER_COOLDOWN_SECONDS", "breaker_cooldown_seconds"),
        DEFAULT_BREAKER_COOLDOWN_S,
        _float_parser,
        warnings,
    )
    no_chain: tuple[str, ...] = ()
    chain = _resolve(
        layers("SCRIPTWRIGHT_FALLBACK_CHAIN", "fallback_chain"),
        no_chain,
        _chain_parser,
        warnings,
        optional=True,
    )
    return GuardSettings(
        limits=limits,
        retry=RetryConfig(
            budget_seconds=float(budget or DEFAULT_RETRY_BUDGET_S), max_attempts=int(attempts or 1)
        ),
        breaker=BreakerConfig(
            failure_threshold=int(failures or DEFAULT_BREAKER_FAILURES),
            cooldown_seconds=float(cooldown or DEFAULT_BREAKER_COOLDOWN_S),
        ),
        fallback_chain=tuple(chain or ()),
        warnings=tuple(warnings),
    )
