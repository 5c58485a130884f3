"""The values tests exchange with the emulator: recorded requests, canned responses and named faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

PROVIDERS = ("groq", "gemini", "ollama", "openai", "anthropic")

# Faults answered with an error status before any generation starts.
ERROR_FAULTS = frozenset(
    {"rate_limit", "too_large", "server_error", "overloaded", "bad_gateway", "gateway_timeout", "flex"}
)
# Faults that shape a generation that does start.
GENERATION_FAULTS = frozenset({"error_in_stream", "drop_connection", "slow", "blocked_prompt", "length"})

# Which faults each provider can produce faithfully (a Groq "blocked prompt" does not exist, etc.).
SUPPORTED_FAULTS: dict[str, frozenset[str]] = {
    "groq": (ERROR_FAULTS | GENERATION_FAULTS) - {"blocked_prompt"},
    "gemini": (ERROR_FAULTS | GENERATION_FAULTS) - {"too_large", "flex"},
    "ollama": (ERROR_FAULTS | GENERATION_FAULTS) - {"too_large", "flex", "blocked_prompt"},
    # too_large: OpenAI's 400 context_length_exceeded; Anthropic's 413 request_too_large.
    "openai": (ERROR_FAULTS | GENERATION_FAULTS) - {"flex", "blocked_prompt"},
    "anthropic": (ERROR_FAULTS | GENERATION_FAULTS) - {"flex", "blocked_prompt"},
}


@dataclass
class RecordedRequest:
    """One request as the emulator received it, for assertions."""

    provider: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    time: float


@dataclass
class ScriptedResponse:
    """A canned HTTP response sent verbatim instead of the provider's normal answer.

    dict/list bodies are sent as JSON; str/bytes bodies raw (text/html when they look like markup).
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0


@dataclass
class Fault:
    """A named, provider-faithful fault; the provider module renders it in its own wire shape.

    Common params: ``message`` overrides the error text; ``after_tokens`` (default 3) is where
    ``error_in_stream``, ``drop_connection`` and ``length`` cut the generation; ``delay`` for ``slow``.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    KINDS: ClassVar[frozenset[str]] = ERROR_FAULTS | GENERATION_FAULTS

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(self.KINDS)}")
        if self.kind == "slow" and "delay" not in self.params:
            raise ValueError("a slow fault needs params={'delay': seconds}")

    @property
    def after_tokens(self) -> int:
        return int(self.params.get("after_tokens", 3))

    @classmethod
    def rate_limit(cls, **params: Any) -> Fault:
        """429. Groq: retry_after, window rpm|rpd|tpm|tpd, limit, used, requested, try_again.
        Gemini: window rpm|rpd|tpm, quota_id, quota_value, limit, retry_delay ("3s"), limit_zero."""
        return cls("rate_limit", params)

    @classmethod
    def too_large(cls, **params: Any) -> Fault:
        """Groq 413: one request above the TPM limit (params: limit, requested)."""
        return cls("too_large", params)

    @classmethod
    def server_error(cls, **params: Any) -> Fault:
        return cls("server_error", params)

    @classmethod
    def overloaded(cls, **params: Any) -> Fault:
        """503 in the provider's shape (Groq over capacity, Gemini UNAVAILABLE, Ollama server busy)."""
        return cls("overloaded", params)

    @classmethod
    def bad_gateway(cls, **params: Any) -> Fault:
        """502 with an HTML page, as a proxy in front of the provider sends it."""
        return cls("bad_gateway", params)

    @classmethod
    def gateway_timeout(cls, **params: Any) -> Fault:
        return cls("gateway_timeout", params)

    @classmethod
    def flex(cls, **params: Any) -> Fault:
        """Groq 498: flex tier capacity exceeded."""
        return cls("flex", params)

    @classmethod
    def error_in_stream(cls, after_tokens: int = 3, **params: Any) -> Fault:
        """200 stream, then the provider's error frame after `after_tokens` tokens."""
        return cls("error_in_stream", {"after_tokens": after_tokens, **params})

    @classmethod
    def drop_connection(cls, after_tokens: int = 3) -> Fault:
        """Stream `after_tokens` tokens, then close the socket without finishing the chunked body."""
        return cls("drop_connection", {"after_tokens": after_tokens})

    @classmethod
    def slow(cls, delay: float) -> Fault:
        """Wait `delay` seconds before answering at all (to trigger client read timeouts)."""
        return cls("slow", {"delay": delay})

    @classmethod
    def blocked_prompt(cls, reason: str = "SAFETY") -> Fault:
        """Gemini 200 with promptFeedback.blockReason and no candidates."""
        return cls("blocked_prompt", {"reason": reason})

    @classmethod
    def length(cls, after_tokens: int = 3) -> Fault:
        """Finish normally but by length after `after_tokens` tokens."""
        return cls("length", {"after_tokens": after_tokens})
