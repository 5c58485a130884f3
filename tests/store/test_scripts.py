from __future__ import annotations

import sqlite3
from datetime import UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.store import ScriptRecord, Store, StoreError
from app.store.scripts import fts_query


def make(store: Store, topic: str, text: str = "", status: str = "complete") -> int:
    script_id = store.create_script(topic, store.default_persona(), "ollama", "llama3.2", 200)
    store.finish_script(script_id, text=text, status=status, provider="ollama", model="llama3.2")  # type: ignore[arg-type]
    return script_id


def test_create_then_finish(store: Store) -> None:
    persona = store.get_persona("energetic-youtuber")
    script_id = store.create_script("Why cats purr", persona, "groq", "llama-3.3-70b-versatile", 300)
    started = store.get_script(script_id)
    assert started is not None
    assert started.status == "generating"
    assert started.text == ""
    assert (started.persona_id, started.persona_name) == ("energetic-youtuber", "Energetic YouTuber")
    assert started.target_words == 300

    # A fallback may finish on another provider than it started with.
    store.finish_script(
        script_id,
        text="Cats purr for more reasons than you think.",
        status="complete",
        provider="gemini",
        model="gemini-2.5-flash",
        prompt_tokens=120,
        completion_tokens=400,
        total_tokens=520,
        latency_ms=2300.5,
        ttft_ms=310.25,
        finish_reason="stop",
    )
    done = store.get_script(script_id)
    assert done is not None
    assert (done.status, done.provider, done.model) == ("complete", "gemini", "gemini-2.5-flash")
    assert (done.prompt_tokens, done.completion_tokens, done.total_tokens) == (120, 400, 520)
    assert (done.latency_ms, done.time_to_first_token_ms, done.finish_reason) == (2300.5, 310.25, "stop")
    assert done.created_at == started.created_at
    assert done.updated_at >= started.updated_at
    assert done.created.tzinfo == UTC


def test_failed_generation_keeps_partial_text_and_error(store: Store) -> None:
    script_id = store.create_script("Volcanoes", None, "groq", "m", None)
    store.finish_script(
        script_id,
        text="Deep under",
        status="failed",
        provider="groq",
        model="m",
        error_code="RATE_LIMIT_EXCEEDED",
        error_message="Groq's per-minute limit was reached.",
    )
    record = store.get_script(script_id)
    assert record is not None
    assert (record.text, record.status, record.error_code) == ("Deep under", "failed", "RATE_LIMIT_EXCEEDED")
    assert record.persona_id is None and record.persona_name is None


def test_finish_validates_status_and_existence(store: Store, raw: sqlite3.Connection) -> None:
    script_id = make(store, "x")
    with pytest.raises(ValueError, match="Unknown script status 'done'"):
        store.finish_script(script_id, text="", status="done", provider="p", model="m")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="Script 999 is no longer in the history"):
        store.finish_script(999, text="t", status="complete", provider="p", model="m")
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("UPDATE scripts SET status = 'done'")


def test_create_with_a_persona_deleted_meanwhile(store: Store, raw: sqlite3.Connection) -> None:
    persona = store.get_persona("energetic-youtuber")
    raw.execute("DELETE FROM system_prompts WHERE id = 'energetic-youtuber'")
    record = store.get_script(store.create_script("t", persona, "ollama", "m", None))
    assert record is not None
    assert (record.persona_id, record.persona_name) == (None, "Energetic YouTuber")


def test_list_is_newest_first_up_to_the_limit(store: Store) -> None:
    ids = [make(store, f"topic {i}") for i in range(5)]
    listed = store.list_scripts()
    assert [s.id for s in listed] == ids[::-1]
    assert [s.id for s in store.list_scripts(limit=2)] == [ids[4], ids[3]]
    assert store.get_script(12345) is None


def test_search_topic_and_text(store: Store) -> None:
    sky = make(store, "Why is the sky blue?", "Sunlight scatters off air molecules: Rayleigh scattering.")
    cafe = make(store, "Paris cafés", "The first café opened in 1686.")
    octo = make(store, "Octopus facts", "An octopus has three hearts and blue blood.")

    assert [s.id for s in store.list_scripts(search="blue")] == [octo, sky]  # topic or text, newest first
    assert [s.id for s in store.list_scripts(search="rayl")] == [sky]  # word prefixes match
    assert [s.id for s in store.list_scripts(search="blue hearts")] == [octo]  # every word must match
    assert [s.id for s in store.list_scripts(search="CAFE")] == [cafe]  # case and accents folded
    assert store.list_scripts(search="giraffe") == []
    assert len(store.list_scripts(search="   ")) == 3  # blank search lists everything


def test_search_follows_updates_and_deletes(store: Store) -> None:
    script_id = store.create_script("Bridges", None, "ollama", "m", None)
    assert store.list_scripts(search="suspension") == []
    store.finish_script(
        script_id, text="A suspension bridge hangs.", status="complete", provider="o", model="m"
    )
    assert [s.id for s in store.list_scripts(search="suspension")] == [script_id]
    store.delete_script(script_id)
    assert store.list_scripts(search="suspension") == []
    assert store.list_scripts(search="bridges") == []


def test_search_input_is_never_fts_syntax(store: Store) -> None:
    make(store, "C++ tips", 'Use "const" AND NOT macros; NEAR(x y) is fine')
    for query in ['"', "AND", "NOT macros", "NEAR(", "*", "topic:const", "const)"]:
        store.list_scripts(search=query)  # must not raise an FTS5 syntax error
    assert len(store.list_scripts(search='"const"')) == 1


def test_punctuation_only_search_falls_back_to_substring(store: Store) -> None:
    hit = make(store, "Math", "Really?! 100% sure")
    make(store, "Other", "nothing here")
    assert fts_query("?!") is None
    assert [s.id for s in store.list_scripts(search="?!")] == [hit]
    assert [s.id for s in store.list_scripts(search="%")] == [hit]  # LIKE wildcards are escaped
    assert store.list_scripts(search="_") == []


def test_fts_query_quotes_every_word() -> None:
    assert fts_query('sky "blue" OR night') == '"sky"* "blue"* "OR"* "night"*'


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_any_search_text_is_safe(store: Store, search: str) -> None:
    assert isinstance(store.list_scripts(search=search), list)


def test_delete_returns_the_record_and_restore_brings_it_back(store: Store, raw: sqlite3.Connection) -> None:
    older = make(store, "Older")
    target = make(store, "Glaciers", "Ice that flows.")
    newer = make(store, "Newer")
    original = store.get_script(target)
    assert original is not None

    deleted = store.delete_script(target)
    assert deleted == original
    assert store.get_script(target) is None
    assert store.delete_script(target) is None

    assert store.restore_script(deleted) == target
    assert store.get_script(target) == original  # same id, same timestamps
    assert [s.id for s in store.list_scripts()] == [newer, target, older]
    assert [s.id for s in store.list_scripts(search="flows")] == [target]


def test_ids_are_not_reused_after_deleting_the_newest(store: Store) -> None:
    first = make(store, "first")
    deleted = store.delete_script(first)
    assert deleted is not None
    second = make(store, "second")
    assert second != first
    assert store.restore_script(deleted) == first


def test_restoring_twice_gives_the_copy_a_new_id(store: Store) -> None:
    record = store.delete_script(make(store, "twice"))
    assert record is not None
    assert store.restore_script(record) == record.id
    again = store.restore_script(record)
    assert again != record.id
    copy = store.get_script(again)
    assert copy is not None and copy.topic == "twice" and copy.created_at == record.created_at


def test_restore_after_the_persona_was_deleted(store: Store, raw: sqlite3.Connection) -> None:
    record = store.delete_script(make(store, "orphan"))
    assert record is not None and record.persona_id == "educational-explainer"
    raw.execute("DELETE FROM system_prompts WHERE id = 'educational-explainer'")
    restored = store.get_script(store.restore_script(record))
    assert isinstance(restored, ScriptRecord)
    assert (restored.persona_id, restored.persona_name) == (None, "Educational Explainer")
