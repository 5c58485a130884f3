"""A fake ScriptService with exactly the window's contract, over a REAL store, for the window's unit tests.

It streams scripted deltas (optionally paced), honours cancellation like the real one (saves the partial text
as "cancelled" and re-raises), returns failures as outcomes, and can ask for fallback consent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from app.core.errors import ErrorCode, LLMProviderError
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.state import RateLimitState
from app.core.service import ScriptOutcome, ScriptRequest
from app.core.types import GenerateResult, TokenUsage
from app.store import Store
from app.ui.main_window import MainWindow

from . import limit_states

MODELS = {"groq": "llama-3.3-70b-versatile", "gemini": "gemini-2.5-flash", "ollama": "llama3.2"}


async def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> None:
    """Await until `predicate()` is truthy while the Qt (qasync) loop runs; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def open_window(service: Any, settings_path: Path | None, **kwargs: Any) -> AsyncIterator[MainWindow]:
    """A shown MainWindow, closed (tasks awaited) and deleted inside the running loop afterwards."""
    window = MainWindow(service, settings_path=settings_path, **kwargs)
    window.show()
    try:
        yield window
    finally:
        window.close()
        await window.wait_idle()
        window.deleteLater()
        await asyncio.sleep(0)


def new_state() -> RateLimitState:
    """A real rate-limit state on a fake clock that starts on a local morning (see limit_states.START)."""
    return RateLimitState(FakeClock(limit_states.START))


@dataclass
class FakeProposal:
    from_provider: str
    to_provider: str
    error: LLMProviderError


@dataclass
class FakeService:
    store: Store
    provider: str = "groq"
    deltas: list[str] = field(default_factory=lambda: ["Hello ", "creators", ", this ", "is a ", "script."])
    delay: float = 0.0  # seconds between deltas
    error: LLMProviderError | None = None  # fail after streaming the deltas
    fallback_to: str | None = None  # ask for consent before writing, then write with this provider
    fallback_error: LLMProviderError | None = None
    save_error: Exception | None = None  # the database refuses the finished script
    state: RateLimitState = field(default_factory=new_state)
    key_store: Any = None
    requests: list[ScriptRequest] = field(default_factory=list)
    yield_intervals: list[float | None] = field(default_factory=list)  # what each generate asked for
    consent_answers: list[str] = field(default_factory=list)
    cancelled: int = 0
    applied: int = 0
    closed: bool = False
    started: asyncio.Event | None = None

    @property
    def clock(self) -> FakeClock:
        clock = self.state.clock
        assert isinstance(clock, FakeClock)
        return clock

    def current_provider(self) -> str:
        return self.provider

    def provider_settings(self, name: str) -> Any:
        return SimpleNamespace(name=name, model=MODELS.get(name, "model"))

    async def generate(
        self,
        request: ScriptRequest,
        *,
        on_delta: Callable[[str], None] | None = None,
        consent: Callable[[Any], Awaitable[str]] | None = None,
        yield_every_s: float | None = None,
    ) -> ScriptOutcome:
        self.requests.append(request)
        self.yield_intervals.append(yield_every_s)
        if self.started is not None:
            self.started.set()
        name = request.provider or self.provider
        persona = self.store.get_persona(request.persona_id) if request.persona_id else None
        script_id = self.store.create_script(request.topic, persona, name, MODELS[name], request.target_words)
        fallback_from = None
        if self.fallback_to is not None:
            assert consent is not None
            error = self.fallback_error or LLMProviderError(
                ErrorCode.QUOTA_EXHAUSTED, f"{name} daily quota is used up.", provider=name
            )
            answer = await consent(FakeProposal(name, self.fallback_to, error))
            self.consent_answers.append(answer)
            if answer == "cancel":
                self.store.finish_script(
                    script_id,
                    text="",
                    status="failed",
                    provider=name,
                    model=MODELS[name],
                    error_code=error.code.value,
                    error_message=error.message,
                )
                return ScriptOutcome(self._saved(script_id), "failed", "", name, MODELS[name], error=error)
            fallback_from, name = name, self.fallback_to
        model = MODELS[name]
        parts: list[str] = []
        started = time.perf_counter()
        try:
            for delta in self.deltas:
                await asyncio.sleep(self.delay)
                parts.append(delta)
                if on_delta is not None:
                    on_delta(delta)
        except asyncio.CancelledError:
            self.cancelled += 1
            self.store.finish_script(
                script_id, text="".join(parts), status="cancelled", provider=name, model=model
            )
            raise
        text = "".join(parts)
        if self.error is not None:
            self.store.finish_script(
                script_id,
                text=text,
                status="failed",
                provider=name,
                model=model,
                error_code=self.error.code.value,
                error_message=self.error.message,
            )
            return ScriptOutcome(self._saved(script_id), "failed", text, name, model, error=self.error)
        latency = (time.perf_counter() - started) * 1000.0
        result = GenerateResult(
            text=text,
            provider=name,
            model=model,
            usage=TokenUsage(12, len(self.deltas), 12 + len(self.deltas)),
            latency_ms=latency,
            finish_reason="stop",
            time_to_first_token_ms=min(latency, 120.0),
        )
        self.store.finish_script(
            script_id,
            text=text,
            status="complete",
            provider=name,
            model=model,
            completion_tokens=len(self.deltas),
            total_tokens=12 + len(self.deltas),
            latency_ms=latency,
            ttft_ms=result.time_to_first_token_ms,
            finish_reason="stop",
        )
        return ScriptOutcome(
            self._saved(script_id), "complete", text, name, model, result=result, fallback_from=fallback_from
        )

    def _saved(self, script_id: int) -> Future[int]:
        """What the real service hands back: resolved once the script is in the database."""
        saved: Future[int] = Future()
        if self.save_error is not None:
            saved.set_exception(self.save_error)
        else:
            saved.set_result(script_id)
        return saved

    def prepare(self, provider: str | None = None) -> None:
        """Nothing to build: the fake writes without a provider."""

    def apply_settings(self) -> None:
        self.applied += 1

    async def aclose(self) -> None:
        self.closed = True
