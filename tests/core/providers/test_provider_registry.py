"""The registry: names to adapters, imported on first use."""

from __future__ import annotations

import pytest

from app.core.config import ProviderSettings
from app.core.errors import ErrorCode, LLMProviderError, describe_wait
from app.core.providers import create_provider, provider_class
from app.core.providers.base import redact, transport_failure


def test_unknown_provider_names_the_valid_ones() -> None:
    with pytest.raises(LLMProviderError) as info:
        create_provider("nope", ProviderSettings(name="nope", model="x"))
    assert info.value.code is ErrorCode.INVALID_REQUEST
    for name in ("ollama", "gemini", "groq"):
        assert name in info.value.message


@pytest.mark.parametrize(
    ("name", "cls"), [("ollama", "OllamaProvider"), ("gemini", "GeminiProvider"), ("groq", "GroqProvider")]
)
def test_known_providers(name: str, cls: str) -> None:
    provider = create_provider(name, ProviderSettings(name=name, model="m", api_key="k-123"))
    assert type(provider).__name__ == cls and provider.name == name
    assert provider_class(name) is type(provider)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "1 s"), (0.2, "1 s"), (1.98, "2 s"), (39, "39 s"), (60, "1 min"), (578.016, "9 min 39 s"),
     (3600, "1 h"), (22320, "6 h 12 min")],
)  # fmt: skip
def test_describe_wait(seconds: float, text: str) -> None:
    assert describe_wait(seconds) == text


def test_redact() -> None:
    assert redact("key=abcd1234 here", "abcd1234") == "key=[redacted] here"
    assert redact("nothing", None) == "nothing"
    assert redact("a b", "a") == "a b"  # too short to be a key: left alone


def test_transport_failure_kinds() -> None:
    import httpx
    import httpx2

    request = httpx.Request("GET", "http://x")
    assert transport_failure(httpx.ConnectError("refused", request=request)) == "connect"
    assert transport_failure(httpx.ConnectTimeout("slow", request=request)) == "connect"
    assert transport_failure(httpx.ReadTimeout("slow", request=request)) == "timeout"
    assert transport_failure(httpx.RemoteProtocolError("gone", request=request)) == "dropped"
    assert transport_failure(httpx.ReadError("gone", request=request)) == "dropped"
    assert transport_failure(httpx2.ConnectError("refused")) == "connect"
    assert transport_failure(httpx2.ReadTimeout("slow")) == "timeout"
    assert transport_failure(ValueError("x")) is None
    assert transport_failure(ConnectionError("x")) is None
