"""A scripted LLMProvider for the guard tests: each call plays the next step of its script."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from app.core.config import ProviderSettings
from app.core.errors import ErrorCode, LLMProviderError
from app.core.guards import ProviderGuards
from app.core.providers.base import LLMProvider, ProviderChunk, ProviderRequest
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.settings import BreakerConfig, GuardSettings, RateLimitConfig, RetryConfig
from app.core.ratelimit.snapshot import RateLimitSnapshot, Window
from app.core.types import ChatMessage, ModelInfo, TokenUsage

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
MESSAGES = (ChatMessage("user", "Write a script about bees."),)
LOCAL = UTC  # the guards' local time zone in these tests


@dataclass
class Reply:
    """A successful reply: its text (streamed as `chunks` when given), usage and optional snapshot."""

    text: str = "ok"
    chunks: Sequence[str | BaseException] | None = None
    usage: TokenUsage = field(default_factory=lambda: TokenUsage(10, 20, 30))
    snapshot: RateLimitSnapshot | None = None


Step = Reply | BaseException | Callable[[], Any]


class ScriptedProvider(LLMProvider):
    name = "groq"

    def __init__(
        self, script: Sequence[Step], *, model: str | None = None, clock: FakeClock | None = None
    ) -> None:
        entry_model = model or {"groq": "llama-3.3-70b-versatile", "gemini": "gemini-2.5-flash"}.get(
            self.name, "llama3.2"
        )
        super().__init__(
            ProviderSettings(self.name, entry_model, api_key="sk-real-looking-key-123"), clock=clock
        )
        self.script = list(script)
        self.calls = 0
        self.requests: list[ProviderRequest] = []
        self._snapshots: dict[str, RateLimitSnapshot | None] = {}  # by call, as its headers name it
        self.closed = False

    def _next(self, request: ProviderRequest) -> Reply:
        self.calls += 1
        self.requests.append(request)
        step = self.script.pop(0) if self.script else Reply()
        if isinstance(step, BaseException):
            raise step
        if callable(step) and not isinstance(step, Reply):
            result = step()
            if isinstance(result, BaseException):
                raise result
            step = result if isinstance(result, Reply) else Reply()
        assert isinstance(step, Reply)
        self._snapshots[str(self.calls)] = step.snapshot
        return step

    def _headers(self) -> dict[str, str]:
        return {"x-fake-call": str(self.calls)}

    async def _complete(self, request: ProviderRequest) -> ProviderChunk:
        reply = self._next(request)
        return ProviderChunk(
            text=reply.text, usage=reply.usage, headers=self._headers(), finish_reason="stop"
        )

    async def _stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        reply, headers = self._next(request), self._headers()
        for piece in reply.chunks if reply.chunks is not None else [reply.text]:
            if isinstance(piece, BaseException):
                raise piece
            yield ProviderChunk(text=piece)
        yield ProviderChunk(usage=reply.usage, headers=headers, finish_reason="stop")

    async def _list_models(self) -> list[ModelInfo]:
        return [ModelInfo(self.model)]

    def _map_error(self, exc: BaseException) -> LLMProviderError:
        return self.error(ErrorCode.NETWORK_ERROR, f"{self.label} failed: {exc}")

    def rate_limit_snapshot(self, headers: Any, now: float | None = None) -> RateLimitSnapshot | None:
        return self._snapshots.get(headers.get("x-fake-call", ""))

    async def aclose(self) -> None:
        self.closed = True


class FakeGroq(ScriptedProvider):
    name = "groq"


class FakeGemini(ScriptedProvider):
    name = "gemini"


class FakeOllama(ScriptedProvider):
    name = "ollama"


def error(
    code: ErrorCode,
    provider: str = "groq",
    *,
    retry_after: float | None = None,
    status: int | None = None,
    window: Window | None = None,
    reset_at: float | None = None,
    message: str | None = None,
) -> LLMProviderError:
    from datetime import datetime

    return LLMProviderError(
        code,
        message or f"{provider} failed with {code.value}",
        provider=provider,
        retry_after=retry_after,
        status_code=status,
        window=window,
        reset_at=datetime.fromtimestamp(reset_at, UTC) if reset_at is not None else None,
    )


def unlimited() -> dict[str, RateLimitConfig]:
    return {name: RateLimitConfig(enabled=False) for name in ("groq", "gemini", "ollama")}


def make_guards(
    clock: FakeClock,
    *,
    limits: dict[str, RateLimitConfig] | None = None,
    retry: RetryConfig | None = None,
    breaker: BreakerConfig | None = None,
    on_attempt: Any = None,
    list_price: Any = None,
) -> ProviderGuards:
    settings = GuardSettings(
        limits=limits if limits is not None else unlimited(),
        retry=retry or RetryConfig(jitter=0.0),
        breaker=breaker or BreakerConfig(),
    )
    import random

    return ProviderGuards(
        settings,
        clock=clock,
        on_attempt=on_attempt,
        local_tz=LOCAL,
        rng=random.Random(7),
        list_price=list_price,
    )
