"""Limit settings: catalogue defaults < environment < saved values; invalid values reported once, defaults kept."""

# The expected warnings are long sentences on purpose.
# ruff: noqa: E501

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.ratelimit.settings import (
    BreakerConfig,
    GuardSettings,
    RateLimitConfig,
    RetryConfig,
    env_var,
    forget_logged_warnings,
    load_guard_settings,
    load_rate_limit_config,
    settings_key,
)


@pytest.fixture(autouse=True)
def _fresh_warning_log() -> Iterator[None]:
    forget_logged_warnings()
    yield
    forget_logged_warnings()


def test_catalogue_defaults() -> None:
    settings = load_guard_settings({}, {})
    groq, gemini, ollama = (settings.limits[name] for name in ("groq", "gemini", "ollama"))
    assert (groq.enabled, groq.requests_per_minute, groq.seconds_per_request) == (True, 2, None)
    assert (gemini.enabled, gemini.requests_per_minute) == (True, 1)
    assert gemini.daily_reset_timezone == "America/Los_Angeles"
    assert groq.daily_reset_timezone is None
    assert ollama.enabled is False
    assert settings.retry == RetryConfig(budget_seconds=120.0, max_attempts=4)
    assert settings.breaker == BreakerConfig(failure_threshold=3, cooldown_seconds=30.0)
    assert settings.fallback_chain == ()  # off by default
    assert settings.warnings == ()


def test_environment_values() -> None:
    env = {
        "GROQ_RATE_LIMIT_ENABLED": "false",
        "GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE": "10",
        "GROQ_RATE_LIMIT_SECONDS_PER_REQUEST": "6.5",
        "GROQ_RATE_LIMIT_TOKENS_PER_MINUTE": "12000",
        "GROQ_RATE_LIMIT_REQUESTS_PER_DAY": "1000",
        "OLLAMA_RATE_LIMIT_ENABLED": "yes",
        "SCRIPTWRIGHT_RETRY_BUDGET_SECONDS": "45",
        "SCRIPTWRIGHT_RETRY_MAX_ATTEMPTS": "2",
        "SCRIPTWRIGHT_BREAKER_FAILURES": "5",
        "SCRIPTWRIGHT_BREAKER_COOLDOWN_SECONDS": "12.5",
        "SCRIPTWRIGHT_FALLBACK_CHAIN": "groq > gemini, ollama",
    }
    settings = load_guard_settings(env)
    assert settings.limits["groq"] == RateLimitConfig(
        enabled=False,
        requests_per_minute=10,
        seconds_per_request=6.5,
        tokens_per_minute=12000,
        requests_per_day=1000,
    )
    assert settings.limits["ollama"].enabled is True
    assert settings.retry.budget_seconds == 45 and settings.retry.max_attempts == 2
    assert settings.breaker == BreakerConfig(5, 12.5)
    assert settings.fallback_chain == ("groq", "gemini", "ollama")
    assert settings.warnings == ()


def test_saved_values_override_the_environment() -> None:
    env = {"GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE": "10", "GROQ_RATE_LIMIT_TOKENS_PER_MINUTE": "6000"}
    saved: dict[str, Any] = {
        "ratelimit.groq.requests_per_minute": 3,  # typed values, as the store returns them
        "ratelimit.groq.enabled": False,
        "ratelimit.groq.tokens_per_minute": "",  # cleared in the dialog: no token limit
        "ratelimit.gemini.seconds_per_request": "60",
        "ratelimit.retry_budget_seconds": 30,
        "ratelimit.fallback_chain": ["gemini", "ollama"],
    }
    settings = load_guard_settings(env, saved)
    groq = settings.limits["groq"]
    assert (groq.requests_per_minute, groq.enabled, groq.tokens_per_minute) == (3, False, None)
    assert settings.limits["gemini"].seconds_per_request == 60.0
    assert settings.retry.budget_seconds == 30
    assert settings.fallback_chain == ("gemini", "ollama")


def test_the_store_can_be_passed_directly() -> None:
    class Store:
        def __init__(self) -> None:
            self.prefixes: list[str] = []

        def settings_with_prefix(self, prefix: str) -> dict[str, Any]:
            self.prefixes.append(prefix)
            return {"ratelimit.groq.requests_per_minute": "4"}

    store = Store()
    assert load_guard_settings({}, store).limits["groq"].requests_per_minute == 4
    assert store.prefixes == ["ratelimit."]


def test_invalid_values_are_reported_once_and_the_default_is_used(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "app.core.ratelimit.settings")
    env = {"GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE": "abc"}
    first = load_guard_settings(env)
    assert first.limits["groq"].requests_per_minute == 2
    assert first.warnings == ("GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE='abc' is not a positive number; using 2.",)
    second = load_guard_settings(env)  # e.g. the settings dialog reloads
    assert second.warnings == first.warnings  # still returned for the UI...
    logged = [r.getMessage() for r in caplog.records if "REQUESTS_PER_MINUTE" in r.getMessage()]
    assert logged == [
        "[RateLimitSettings] GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE='abc' is not a positive number; using 2."
    ]


@pytest.mark.parametrize(
    ("name", "value", "warning"),
    [
        (
            "GEMINI_RATE_LIMIT_REQUESTS_PER_MINUTE",
            "0",
            "GEMINI_RATE_LIMIT_REQUESTS_PER_MINUTE='0' is not a positive number; using 1.",
        ),
        (
            "GEMINI_RATE_LIMIT_REQUESTS_PER_MINUTE",
            "-5",
            "GEMINI_RATE_LIMIT_REQUESTS_PER_MINUTE='-5' is not a positive number; using 1.",
        ),
        (
            "GEMINI_RATE_LIMIT_REQUESTS_PER_MINUTE",
            "2.5",
            "GEMINI_RATE_LIMIT_REQUESTS_PER_MINUTE='2.5' is not a whole number; using 1.",
        ),
        (
            "GEMINI_RATE_LIMIT_REQUESTS_PER_MINUTE",
            "inf",
            "GEMINI_RATE_LIMIT_REQUESTS_PER_MINUTE='inf' is not a positive number; using 1.",
        ),
        (
            "GEMINI_RATE_LIMIT_ENABLED",
            "maybe",
            "GEMINI_RATE_LIMIT_ENABLED='maybe' is not true or false; using true.",
        ),
        (
            "GEMINI_RATE_LIMIT_SECONDS_PER_REQUEST",
            "0",
            "GEMINI_RATE_LIMIT_SECONDS_PER_REQUEST='0' is not a positive number; using no limit.",
        ),
        (
            "GEMINI_RATE_LIMIT_TOKENS_PER_MINUTE",
            "lots",
            "GEMINI_RATE_LIMIT_TOKENS_PER_MINUTE='lots' is not a positive number; using no limit.",
        ),
        (
            "SCRIPTWRIGHT_RETRY_BUDGET_SECONDS",
            "-1",
            "SCRIPTWRIGHT_RETRY_BUDGET_SECONDS='-1' is not a positive number; using 120.",
        ),
        (
            "SCRIPTWRIGHT_RETRY_MAX_ATTEMPTS",
            "zero",
            "SCRIPTWRIGHT_RETRY_MAX_ATTEMPTS='zero' is not a positive number; using 4.",
        ),
        (
            "SCRIPTWRIGHT_FALLBACK_CHAIN",
            "groq,mistral",
            "SCRIPTWRIGHT_FALLBACK_CHAIN='groq,mistral' names unknown providers (mistral; choose from ollama, gemini, groq, openai, anthropic); using no fallback.",
        ),
    ],
)
def test_each_invalid_value_names_the_variable_and_the_value_used(
    name: str, value: str, warning: str
) -> None:
    settings = load_guard_settings({name: value})
    assert settings.warnings == (warning,)
    defaults = load_guard_settings({})
    assert settings.limits == defaults.limits  # the default is used
    assert (settings.retry, settings.breaker, settings.fallback_chain) == (
        defaults.retry,
        defaults.breaker,
        defaults.fallback_chain,
    )


def test_a_bad_chain_keeps_the_previous_layer() -> None:
    settings = load_guard_settings(
        {"SCRIPTWRIGHT_FALLBACK_CHAIN": "groq,gemini"}, {"ratelimit.fallback_chain": "nope"}
    )
    assert settings.fallback_chain == ("groq", "gemini")
    assert settings.warnings[0].endswith("using groq > gemini.")


def test_a_bad_saved_value_falls_back_to_a_good_environment_value() -> None:
    env = {"GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE": "5"}
    settings = load_guard_settings(env, {"ratelimit.groq.requests_per_minute": True})
    assert settings.limits["groq"].requests_per_minute == 5
    assert settings.warnings == (
        "Saved setting ratelimit.groq.requests_per_minute='True' is not a positive number; using 5.",
    )


def test_bad_environment_value_under_a_good_saved_one_names_the_value_in_use() -> None:
    settings = load_guard_settings(
        {"GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE": "x"}, {"ratelimit.groq.requests_per_minute": "7"}
    )
    assert settings.limits["groq"].requests_per_minute == 7
    assert settings.warnings == (
        "GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE='x' is not a positive number; using 7.",
    )


def test_boolean_spellings() -> None:
    for text, expected in [
        ("1", True),
        ("On", True),
        ("ENABLED", True),
        ("0", False),
        ("off", False),
        ("No", False),
    ]:
        assert load_rate_limit_config("groq", {"GROQ_RATE_LIMIT_ENABLED": text}).enabled is expected
    assert load_rate_limit_config("groq", {}, {"ratelimit.groq.enabled": 0}).enabled is False


def test_names_and_keys() -> None:
    assert env_var("groq", "requests_per_minute") == "GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE"
    assert env_var("gemini", "requests_per_day") == "GEMINI_RATE_LIMIT_REQUESTS_PER_DAY"
    assert settings_key("groq", "seconds_per_request") == "ratelimit.groq.seconds_per_request"


def test_fallback_order_puts_the_users_choice_first() -> None:
    assert GuardSettings().fallback_order("gemini") == ("gemini",)  # off by default
    chain = GuardSettings(fallback_chain=("groq", "gemini", "ollama"))
    assert chain.fallback_order("gemini") == ("gemini", "groq", "ollama")
    assert chain.fallback_order("groq") == ("groq", "gemini", "ollama")


def test_guard_settings_limit_for_falls_back_to_the_catalogue() -> None:
    assert GuardSettings().limit_for("groq").requests_per_minute == 2
    custom = GuardSettings(limits={"groq": RateLimitConfig(requests_per_minute=9)})
    assert custom.limit_for("groq").requests_per_minute == 9


def test_rate_limit_config_refuses_a_zero_limit() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimitConfig(requests_per_minute=0)
