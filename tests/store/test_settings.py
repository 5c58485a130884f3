from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.store import Store, StoreError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(json_values)
def test_any_json_value_round_trips(store: Store, value: Any) -> None:
    store.set_setting("test.value", value)
    assert store.get_setting("test.value") == value


def test_default_when_missing(store: Store) -> None:
    assert store.get_setting("groq.model") is None
    assert store.get_setting("groq.model", "llama-3.3-70b-versatile") == "llama-3.3-70b-versatile"
    store.set_setting("groq.model", None)  # a stored null is not "missing"
    assert store.get_setting("groq.model", "fallback") is None


def test_overwrite_and_delete(store: Store) -> None:
    store.set_setting("ollama.host", "http://localhost:11434")
    store.set_setting("ollama.host", "http://gpu-box:11434")
    assert store.get_setting("ollama.host") == "http://gpu-box:11434"
    assert store.delete_setting("ollama.host") is True
    assert store.delete_setting("ollama.host") is False
    assert store.get_setting("ollama.host") is None


def test_settings_with_prefix(store: Store) -> None:
    store.set_settings(
        {
            "groq.model": "llama-3.3-70b-versatile",
            "groq.rate_limit.rpm": 30,
            "groqx.other": 1,
            "gemini.model": "gemini-2.5-flash",
            "fallback_order": ["groq", "gemini", "ollama"],
        }
    )
    assert store.settings_with_prefix("groq.") == {
        "groq.model": "llama-3.3-70b-versatile",
        "groq.rate_limit.rpm": 30,
    }
    # `_` is literal, not a LIKE wildcard.
    assert store.settings_with_prefix("fallback_") == {"fallback_order": ["groq", "gemini", "ollama"]}
    assert store.settings_with_prefix("fallbackX") == {}
    assert len(store.settings_with_prefix("")) == 5


def test_set_settings_is_all_or_nothing(store: Store) -> None:
    store.set_setting("a", 1)
    with pytest.raises(ValueError):
        store.set_settings({"a": 2, "b": 3, "c": math.nan})
    assert store.get_setting("a") == 1
    assert store.get_setting("b") is None


def test_values_must_be_json(store: Store) -> None:
    with pytest.raises(TypeError):
        store.set_setting("x", object())
    with pytest.raises(ValueError):
        store.set_setting("x", math.inf)


@pytest.mark.parametrize("key", ["groq.api_key", "gemini.API_KEY", "apikey", "proxy.password", "x.secret"])
def test_secrets_are_refused(store: Store, key: str) -> None:
    with pytest.raises(StoreError, match="OS keychain"):
        store.set_setting(key, "sk-123")
    assert store.get_setting(key) is None


def test_secret_like_but_harmless_keys_are_allowed(store: Store) -> None:
    store.set_setting("groq.api_key_storage", "keychain")
    assert store.get_setting("groq.api_key_storage") == "keychain"


def test_empty_key_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="non-empty key"):
        store.set_setting(" ", 1)
