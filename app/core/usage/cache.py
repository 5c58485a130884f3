"""The response cache: the same request (provider, model, system prompt, messages, parameters) within the TTL
is answered from SQLite instead of the provider. A hit sends nothing, takes no limiter slot and no budget, and
is written to the ledger with cached=1. Streaming a hit replays the text promptly in small chunks.

Settings: TTL in hours from the saved setting `usage.cache_ttl_hours`, else `SCRIPTWRIGHT_CACHE_TTL_HOURS`,
else 24 (0 turns the cache off); size cap `usage.cache_max_mb` (default 50 MB), least recently used first out.
"Regenerate" (`ScriptRequest(use_cache=False)`) and the CLI's `--no-cache` bypass the lookup; their fresh
answer replaces the entry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.core.guards.guarded import AttemptCallback, CallReport
from app.core.ratelimit.clock import Clock, SystemClock
from app.core.types import ChatMessage, GenerateOptions, GenerateResult, StreamItem, TokenUsage
from app.store.records import RequestRecord
from app.store.response_cache import CachedResponse, CacheStats

logger = logging.getLogger(__name__)

TTL_ENV = "SCRIPTWRIGHT_CACHE_TTL_HOURS"
TTL_KEY = "usage.cache_ttl_hours"
MAX_MB_KEY = "usage.cache_max_mb"
DEFAULT_TTL_HOURS = 24.0
DEFAULT_MAX_MB = 50.0
REPLAY_CHUNK_CHARS = 48  # a replayed stream arrives in pieces this size, a loop turn apart


@dataclass(frozen=True, slots=True)
class CacheSettings:
    ttl_hours: float = DEFAULT_TTL_HOURS
    max_mb: float = DEFAULT_MAX_MB
    warnings: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.ttl_hours > 0

    @property
    def ttl_seconds(self) -> float:
        return self.ttl_hours * 3600.0

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)


def load_cache_settings(env: Mapping[str, str], saved: Mapping[str, Any]) -> CacheSettings:
    """Saved setting over environment over the defaults; an invalid value warns and is ignored."""
    warnings: list[str] = []
    ttl = DEFAULT_TTL_HOURS
    for name, raw in ((TTL_ENV, env.get(TTL_ENV)), (f"Saved setting {TTL_KEY}", saved.get(TTL_KEY))):
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        value = _non_negative(raw)
        if value is None:
            warnings.append(f"{name}={raw!r} is not a number of hours (0 or more); using {ttl:g}.")
        else:
            ttl = value
    max_mb = DEFAULT_MAX_MB
    raw_mb = saved.get(MAX_MB_KEY)
    if raw_mb is not None:
        value = _non_negative(raw_mb)
        if value is None or value == 0:
            warnings.append(
                f"Saved setting {MAX_MB_KEY}={raw_mb!r} is not a size above 0 MB; using {max_mb:g}."
            )
        else:
            max_mb = value
    for warning in warnings:
        logger.warning("[ResponseCache] %s", warning)
    return CacheSettings(ttl, max_mb, tuple(warnings))


def _non_negative(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def cache_key(
    provider: str,
    model: str,
    system_prompt: str | None,
    messages: Sequence[ChatMessage],
    options: GenerateOptions | None,
) -> str:
    """A SHA-256 of everything that shapes the answer; any change (a parameter too) is another key."""
    options = options or GenerateOptions()
    document = {
        "provider": provider,
        "model": model,
        "system": system_prompt,
        "messages": [[m.role, m.content] for m in messages],
        "temperature": options.temperature,
        "max_output_tokens": options.max_output_tokens,
        "json_schema": options.json_schema,
    }
    encoded = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


class CacheStore(Protocol):
    """The part of the store the cache uses (`app.store.Store`)."""

    def cache_get(self, key: str, fresh_since: float, now: float) -> CachedResponse | None: ...

    def cache_put(self, entry: CachedResponse, max_bytes: int) -> int: ...

    def cache_clear(self) -> int: ...

    def cache_stats(self) -> CacheStats: ...


class ResponseCache:
    def __init__(
        self, store: CacheStore, settings: CacheSettings | None = None, *, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.settings = settings or CacheSettings()
        self.clock: Clock = clock or SystemClock()

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def configure(self, settings: CacheSettings) -> None:
        self.settings = settings

    def lookup(self, key: str) -> CachedResponse | None:
        if not self.enabled:
            return None
        now = self.clock.now()
        return self.store.cache_get(key, now - self.settings.ttl_seconds, now)

    def save(self, key: str, provider: str, model: str, result: GenerateResult) -> None:
        if not self.enabled or not result.text:
            return
        now = self.clock.now()
        entry = CachedResponse(
            key=key,
            provider=provider,
            model=model,
            text=result.text,
            finish_reason=result.finish_reason,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            created_at=now,
            last_used_at=now,
            hits=0,
            size_bytes=len(result.text.encode("utf-8")) + len(key),
        )
        evicted = self.store.cache_put(entry, self.settings.max_bytes)
        if evicted:
            logger.info(
                "[ResponseCache] evicted %d entries to stay under %.0f MB", evicted, self.settings.max_mb
            )

    def clear(self) -> int:
        return self.store.cache_clear()

    def stats(self) -> CacheStats:
        return self.store.cache_stats()


async def replay(
    entry: CachedResponse,
    *,
    clock: Clock,
    report: CallReport,
    on_attempt: AttemptCallback | None,
    chunk_chars: int = REPLAY_CHUNK_CHARS,
) -> AsyncGenerator[StreamItem, None]:
    """Yield a cached text in small pieces (a loop turn apart, so a window repaints), then its result; the
    ledger gets one row with cached=1 and no tokens: nothing was sent or paid."""
    started_wall, started = clock.now(), time.perf_counter()
    first: float | None = None
    text = entry.text
    for offset in range(0, len(text), chunk_chars):
        if first is None:
            first = time.perf_counter()
        yield text[offset : offset + chunk_chars]
        await asyncio.sleep(0)
    latency = (time.perf_counter() - started) * 1000
    usage = TokenUsage(
        entry.prompt_tokens or 0,
        entry.completion_tokens or 0,
        (entry.prompt_tokens or 0) + (entry.completion_tokens or 0),
    )
    result = GenerateResult(
        text=text,
        provider=entry.provider,
        model=entry.model,
        usage=usage,
        latency_ms=latency,
        finish_reason=entry.finish_reason,
        time_to_first_token_ms=(first - started) * 1000 if first is not None else None,
        cached=True,
    )
    record = RequestRecord(
        provider=entry.provider,
        model=entry.model,
        started_at=started_wall,
        outcome="ok",
        finished_at=clock.now(),
        latency_ms=latency,
        time_to_first_token_ms=result.time_to_first_token_ms,
        streamed=True,
        cached=True,
        cost_usd=0.0,
    )
    report.provider, report.model, report.outcome, report.streamed = entry.provider, entry.model, "ok", True
    report.attempts.append(record)
    if on_attempt is not None:
        outcome = on_attempt(record)
        if asyncio.iscoroutine(outcome):
            await outcome
    yield result
