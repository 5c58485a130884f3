from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.store import Migration, Persona, Store, StoreError, personas
from app.store.db import default_migrations

NEXT = default_migrations()[-1].version + 1  # a later release's migration

SEEDED = {
    "educational-explainer": "Educational Explainer",
    "energetic-youtuber": "Energetic YouTuber",
    "calm-documentary-narrator": "Calm Documentary Narrator",
    "short-form-hook-writer": "Short-form Hook Writer",
}


def test_seeded_personas(store: Store) -> None:
    personas = store.list_personas()
    assert {p.id: p.name for p in personas} == SEEDED
    assert personas[0].id == "educational-explainer" and personas[0].is_default
    assert [p.is_default for p in personas].count(True) == 1
    for persona in personas:
        assert isinstance(persona, Persona)
        assert persona.description
        assert len(persona.prompt.split()) > 100, persona.id  # a real prompt, not a placeholder
        assert "unless the user explicitly asks" in persona.prompt  # plain spoken text by default
        assert "Return only the" in persona.prompt
        assert persona.created_at.endswith("Z")


def test_get_persona_by_id_or_name(store: Store) -> None:
    by_id = store.get_persona("energetic-youtuber")
    assert by_id is not None and by_id.name == "Energetic YouTuber"
    assert store.get_persona("energetic youtuber") == by_id
    assert store.get_persona("  Energetic YouTuber ") == by_id
    assert store.get_persona("nobody") is None


def test_only_one_default_persona(store: Store, raw: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("UPDATE system_prompts SET is_default = 1 WHERE id = 'energetic-youtuber'")


def test_persona_names_are_unique_regardless_of_case(store: Store, raw: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("INSERT INTO system_prompts (id, name, prompt) VALUES ('x', 'energetic youtuber', 'p')")


def test_default_persona_follows_the_preference(store: Store) -> None:
    assert store.default_persona().id == "educational-explainer"
    store.set_default_persona_id("calm-documentary-narrator")
    assert store.default_persona().id == "calm-documentary-narrator"


def test_default_persona_falls_back_when_flag_and_preference_are_gone(
    store: Store, raw: sqlite3.Connection
) -> None:
    store.set_default_persona_id("energetic-youtuber")
    raw.execute("DELETE FROM system_prompts WHERE id IN ('energetic-youtuber', 'educational-explainer')")
    assert store.get_default_persona_id() is None  # ON DELETE SET NULL
    assert store.default_persona().name == "Calm Documentary Narrator"  # first by name
    raw.execute("DELETE FROM system_prompts")
    with pytest.raises(StoreError, match="no personas"):
        store.default_persona()


def test_default_persona_ignores_a_dangling_preference(store: Store) -> None:
    # Only possible if someone edited the file with foreign keys off; still, don't fail.
    with store._db.locked() as conn:
        assert personas.default_persona(conn, "gone").id == "educational-explainer"


def test_deleting_a_persona_unlinks_but_keeps_history(store: Store, raw: sqlite3.Connection) -> None:
    persona = store.get_persona("short-form-hook-writer")
    script_id = store.create_script(
        "Three facts about octopuses", persona, "groq", "llama-3.3-70b-versatile", 120
    )
    store.set_default_persona_id("short-form-hook-writer")
    raw.execute("DELETE FROM system_prompts WHERE id = 'short-form-hook-writer'")
    script = store.get_script(script_id)
    assert script is not None
    assert script.persona_id is None
    assert script.persona_name == "Short-form Hook Writer"
    assert store.get_default_persona_id() is None


# Rebuilding a table that others reference needs foreign keys OFF (see app/store/db.py). These tests pin
# down why: with enforcement on, DROP TABLE fires the children's ON DELETE SET NULL.

REBUILD_PERSONAS = """
CREATE TABLE system_prompts_new (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    prompt TEXT NOT NULL,
    description TEXT,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    sort_order INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO system_prompts_new (id, name, prompt, description, is_default, created_at, updated_at)
    SELECT id, name, prompt, description, is_default, created_at, updated_at FROM system_prompts {where};
DROP TABLE system_prompts;
ALTER TABLE system_prompts_new RENAME TO system_prompts;
CREATE UNIQUE INDEX system_prompts_single_default ON system_prompts (is_default) WHERE is_default = 1;
"""


def _linked_store(db_path: Path) -> int:
    with Store.open(db_path) as store:
        store.set_default_persona_id("energetic-youtuber")
        return store.create_script("topic", store.get_persona("energetic-youtuber"), "ollama", "m", None)


def test_rebuilding_a_parent_table_with_foreign_keys_disabled_keeps_links(db_path: Path) -> None:
    script_id = _linked_store(db_path)
    rebuild = Migration(
        NEXT, "personas_sort_order", REBUILD_PERSONAS.format(where=""), disable_foreign_keys=True
    )
    with Store.open(db_path, migrations=[*default_migrations(), rebuild]) as store:
        script = store.get_script(script_id)
        assert script is not None and script.persona_id == "energetic-youtuber"
        assert store.get_default_persona_id() == "energetic-youtuber"
        with store._db.locked() as conn:
            assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)  # switched back on
            assert conn.execute("SELECT sort_order FROM system_prompts LIMIT 1").fetchone() == (0,)


def test_rebuilding_a_parent_table_with_foreign_keys_on_would_unlink_children(db_path: Path) -> None:
    script_id = _linked_store(db_path)
    rebuild = Migration(
        NEXT, "personas_sort_order", "PRAGMA defer_foreign_keys = ON;" + REBUILD_PERSONAS.format(where="")
    )
    with Store.open(db_path, migrations=[*default_migrations(), rebuild]) as store:
        script = store.get_script(script_id)
        assert script is not None and script.persona_id is None  # the data loss the flag exists to prevent


def test_a_rebuild_that_leaves_dangling_references_rolls_back(db_path: Path) -> None:
    script_id = _linked_store(db_path)
    lossy = REBUILD_PERSONAS.format(where="WHERE id <> 'energetic-youtuber'")
    rebuild = Migration(NEXT, "lossy_rebuild", lossy, disable_foreign_keys=True)
    with pytest.raises(StoreError, match=rf"{NEXT:04d}_lossy_rebuild failed.*dangling foreign keys"):
        Store.open(db_path, migrations=[*default_migrations(), rebuild])
    with Store.open(db_path) as store:
        script = store.get_script(script_id)
        assert script is not None and script.persona_id == "energetic-youtuber"
        assert store.get_persona("energetic-youtuber") is not None
