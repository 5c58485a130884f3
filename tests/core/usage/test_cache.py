"""The response cache: keys, TTL, size cap, hit/miss counters, the streamed replay."""

from __future__ import annotations

from app.core.guards.guarded import CallReport
from app.core.ratelimit.clock import FakeClock
from app.core.types import ChatMessage, GenerateOptions, GenerateResult, TokenUsage
from app.core.usage.cache import CacheSettings, ResponseCache, cache_key, load_cache_settings, replay
from app.store import Store
from app.store.records import RequestRecord

MESSAGES = [ChatMessage("user", "Write about tides")]


def result(text: str = "The tide comes in. " * 20) -> GenerateResult:
    return GenerateResult(text, "groq", "m", TokenUsage(10, 50, 60), 120.0, "stop", 30.0)


def test_the_key_changes_with_anything_that_shapes_the_answer() -> None:
    base = cache_key("groq", "m", "sys", MESSAGES, None)
    assert base == cache_key("groq", "m", "sys", list(MESSAGES), GenerateOptions())
    variants = {
        cache_key("gemini", "m", "sys", MESSAGES, None),
        cache_key("groq", "m2", "sys", MESSAGES, None),
        cache_key("groq", "m", "other", MESSAGES, None),
        cache_key("groq", "m", "sys", [ChatMessage("user", "Write about owls")], None),
        cache_key("groq", "m", "sys", MESSAGES, GenerateOptions(temperature=0.2)),
        cache_key("groq", "m", "sys", MESSAGES, GenerateOptions(max_output_tokens=10)),
        cache_key("groq", "m", "sys", MESSAGES, GenerateOptions(json_schema={"type": "object"})),
    }
    assert base not in variants and len(variants) == 7


def test_ttl_hits_misses_and_clear(store: Store) -> None:
    clock = FakeClock(1_700_000_000.0)
    cache = ResponseCache(store, CacheSettings(ttl_hours=1), clock=clock)
    assert cache.lookup("k") is None
    cache.save("k", "groq", "m", result())
    hit = cache.lookup("k")
    assert hit is not None and hit.prompt_tokens == 10 and hit.completion_tokens == 50
    clock.advance(3601)
    assert cache.lookup("k") is None  # expired, and gone
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (1, 2, 0)
    assert stats.hit_ratio == 1 / 3
    cache.save("k", "groq", "m", result())
    assert cache.clear() == 1 and cache.stats().hits == 0


def test_ttl_zero_turns_the_cache_off(store: Store) -> None:
    cache = ResponseCache(store, CacheSettings(ttl_hours=0), clock=FakeClock())
    cache.save("k", "groq", "m", result())
    assert cache.lookup("k") is None
    assert cache.stats().entries == 0 and cache.stats().misses == 0


def test_least_recently_used_entries_are_evicted_past_the_size_cap(store: Store) -> None:
    clock = FakeClock(1_700_000_000.0)
    text = "x" * 400_000
    cache = ResponseCache(store, CacheSettings(max_mb=1.0), clock=clock)
    for key in ("a", "b"):
        cache.save(key, "groq", "m", result(text))
        clock.advance(1)
    assert cache.lookup("a") is not None  # "a" is now the most recently used
    clock.advance(1)
    cache.save("c", "groq", "m", result(text))
    assert cache.lookup("b") is None
    assert cache.lookup("a") is not None and cache.lookup("c") is not None
    assert cache.stats().evictions == 1
    assert store.cache_evict(0) == 2


def test_settings_from_environment_and_saved_values() -> None:
    assert load_cache_settings({}, {}) == CacheSettings()
    assert load_cache_settings({"SCRIPTWRIGHT_CACHE_TTL_HOURS": "0"}, {}).enabled is False
    settings = load_cache_settings({"SCRIPTWRIGHT_CACHE_TTL_HOURS": "2"}, {"usage.cache_ttl_hours": 6})
    assert settings.ttl_hours == 6 and settings.ttl_seconds == 6 * 3600
    bad = load_cache_settings({"SCRIPTWRIGHT_CACHE_TTL_HOURS": "soon"}, {"usage.cache_max_mb": -1})
    assert bad.ttl_hours == 24 and bad.max_mb == 50 and len(bad.warnings) == 2
    assert load_cache_settings({}, {"usage.cache_max_mb": 5}).max_bytes == 5 * 1024 * 1024


async def test_replay_streams_in_chunks_and_reports_a_cached_attempt(store: Store) -> None:
    clock = FakeClock(1_700_000_000.0)
    cache = ResponseCache(store, clock=clock)
    cache.save("k", "groq", "m", result())
    entry = cache.lookup("k")
    assert entry is not None
    report = CallReport()
    recorded: list[RequestRecord] = []

    async def on_attempt(record: RequestRecord) -> None:
        recorded.append(record)

    items = [
        item
        async for item in replay(entry, clock=clock, report=report, on_attempt=on_attempt, chunk_chars=16)
    ]
    *chunks, final = items
    assert len(chunks) == len(entry.text) // 16 + (1 if len(entry.text) % 16 else 0)
    assert "".join(chunks) == entry.text  # type: ignore[arg-type]
    assert isinstance(final, GenerateResult) and final.cached and final.usage.total_tokens == 60
    [record] = recorded
    assert record.cached and record.outcome == "ok" and record.prompt_tokens is None
    assert report.attempts == [record] and report.provider == "groq"
