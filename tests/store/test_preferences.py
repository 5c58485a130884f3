from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import app
from app.store import VALID_PROVIDERS, InvalidPreferenceError, Migration, Store, StoreError
from app.store.db import default_migrations

REPO_ROOT = Path(app.__file__).resolve().parents[1]

# A later release adding a provider: SQLite can't alter a CHECK, so the table is rebuilt inside the
# migration's transaction (the recipe in app/store/db.py). Nothing references user_preferences, so deferring
# foreign-key checks to COMMIT is enough.
SHIPPED = [m.version for m in default_migrations()]
WIDEN_PROVIDERS = Migration(
    SHIPPED[-1] + 1,
    "widen_providers",
    """
    PRAGMA defer_foreign_keys = ON;
    CREATE TABLE user_preferences_new (
        id TEXT PRIMARY KEY DEFAULT 'default',
        default_voice_id TEXT,
        default_persona_id TEXT,
        default_llm_provider TEXT DEFAULT 'ollama',
        quick_production_enabled INTEGER DEFAULT 1,
        created_at TEXT DEFAULT (datetime('now')),
        updated_at TEXT DEFAULT (datetime('now')),
        FOREIGN KEY (default_persona_id) REFERENCES system_prompts(id) ON DELETE SET NULL,
        CHECK(default_llm_provider IN ('ollama', 'gemini', 'groq', 'openai', 'anthropic', 'mistral')
              OR default_llm_provider GLOB 'openai:[a-z0-9]*')
    );
    INSERT INTO user_preferences_new (id, default_voice_id, default_persona_id, default_llm_provider,
                                      quick_production_enabled, created_at, updated_at)
        SELECT id, default_voice_id, default_persona_id, default_llm_provider,
               quick_production_enabled, created_at, updated_at
        FROM user_preferences;
    DROP TABLE user_preferences;
    ALTER TABLE user_preferences_new RENAME TO user_preferences;
    """,
)


def check_names(conn: sqlite3.Connection) -> tuple[str, ...]:
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'user_preferences'").fetchone()[0]
    match = re.search(r"CHECK\s*\(\s*default_llm_provider\s+IN\s*\(([^)]*)\)", sql)
    assert match is not None
    return tuple(name.strip().strip("'") for name in match.group(1).split(","))


def test_seed_row_and_defaults(store: Store, raw: sqlite3.Connection) -> None:
    row = raw.execute(
        "SELECT id, default_llm_provider, default_persona_id, default_voice_id, quick_production_enabled, "
        "created_at, updated_at FROM user_preferences"
    ).fetchall()
    assert len(row) == 1
    # NULL means "never chosen", so LLM_PROVIDER can still apply; reading it gives the default.
    assert row[0][:5] == ("default", None, None, None, 1)
    assert row[0][5] and row[0][6]
    assert store.get_default_provider() == "ollama"
    assert store.get_saved_provider() is None
    store.set_default_provider("groq")
    assert store.get_saved_provider() == "groq"
    assert store.get_default_persona_id() is None


def test_valid_providers_constant_matches_the_check(store: Store, raw: sqlite3.Connection) -> None:
    assert check_names(raw) == VALID_PROVIDERS == ("ollama", "gemini", "groq", "openai", "anthropic")
    for name in VALID_PROVIDERS:
        raw.execute("UPDATE user_preferences SET default_llm_provider = ?", (name,))
        assert store.get_default_provider() == name


def test_check_rejects_unknown_provider_at_the_sql_level(store: Store, raw: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        raw.execute("UPDATE user_preferences SET default_llm_provider = 'mistral' WHERE id = 'default'")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        raw.execute("UPDATE user_preferences SET default_llm_provider = 'openai:' WHERE id = 'default'")
    raw.execute("UPDATE user_preferences SET default_llm_provider = 'openai:lm-studio' WHERE id = 'default'")


def test_api_rejects_unknown_provider_before_the_check(store: Store) -> None:
    store.set_default_provider("groq")
    with pytest.raises(InvalidPreferenceError) as caught:
        store.set_default_provider("mistral")
    assert str(caught.value) == (
        "Unknown provider 'mistral'. Choose one of: ollama, gemini, groq, openai, anthropic, "
        "or openai:<name> for a named instance."
    )
    assert isinstance(caught.value, StoreError) and isinstance(caught.value, ValueError)
    assert store.get_default_provider() == "groq"


def test_provider_names_are_normalised(store: Store) -> None:
    store.set_default_provider("  Gemini ")
    assert store.get_default_provider() == "gemini"


def test_set_provider_recreates_a_missing_row(store: Store, raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM user_preferences")
    assert store.get_default_provider() == "ollama"
    store.set_default_provider("groq")
    assert store.get_default_provider() == "groq"


def test_updated_at_moves_on_write(store: Store, raw: sqlite3.Connection) -> None:
    raw.execute("UPDATE user_preferences SET updated_at = '2000-01-01 00:00:00'")
    store.set_default_provider("gemini")
    assert raw.execute("SELECT updated_at FROM user_preferences").fetchone()[0] > "2000-01-01 00:00:00"


def test_preference_survives_a_new_process(db_path: Path, store: Store) -> None:
    store.set_default_provider("groq")
    store.close()  # the new process must find it in the file, not in this connection
    code = (
        "import sys\nfrom pathlib import Path\nfrom app.store import Store\n"
        "store = Store.open(Path(sys.argv[1]))\nprint(store.get_default_provider())\n"
        "store.set_default_provider(sys.argv[2])\nstore.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code, str(db_path), "gemini"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "groq"
    with Store.open(db_path) as reopened:  # and the other way round
        assert reopened.get_default_provider() == "gemini"


def test_default_persona_preference(store: Store) -> None:
    store.set_default_persona_id("energetic-youtuber")
    assert store.get_default_persona_id() == "energetic-youtuber"
    store.set_default_persona_id(None)
    assert store.get_default_persona_id() is None


def test_unknown_persona_id_is_rejected(store: Store) -> None:
    with pytest.raises(
        InvalidPreferenceError, match=r"Unknown persona 'nobody'\. Choose one of: .*educational"
    ):
        store.set_default_persona_id("nobody")
    assert store.get_default_persona_id() is None


def test_get_and_set_preference_route_to_the_typed_calls(store: Store) -> None:
    assert store.get_preference("default_llm_provider") == "ollama"
    store.set_preference("default_llm_provider", "groq")
    assert store.get_default_provider() == "groq"

    store.set_preference("default_persona_id", "calm-documentary-narrator")
    assert store.get_preference("default_persona_id") == "calm-documentary-narrator"
    store.set_preference("default_persona_id", "short-form HOOK writer")  # names work too, any case
    assert store.get_default_persona_id() == "short-form-hook-writer"
    store.set_preference("default_persona_id", "")
    assert store.get_preference("default_persona_id") is None
    store.set_preference("default_persona_id", "energetic-youtuber")
    store.set_preference("default_persona_id", None)
    assert store.get_default_persona_id() is None


def test_set_preference_validates(store: Store) -> None:
    with pytest.raises(InvalidPreferenceError, match="Unknown provider 'mistral'"):
        store.set_preference("default_llm_provider", "mistral")
    with pytest.raises(InvalidPreferenceError, match="Unknown provider 'None'"):
        store.set_preference("default_llm_provider", None)
    with pytest.raises(InvalidPreferenceError, match="Unknown persona 'nobody'"):
        store.set_preference("default_persona_id", "nobody")


@pytest.mark.parametrize("call", ["get", "set"])
def test_unknown_preference_key_lists_the_valid_ones(store: Store, call: str) -> None:
    expected = "Unknown preference 'theme'. Choose one of: default_llm_provider, default_persona_id."
    with pytest.raises(InvalidPreferenceError) as caught:
        if call == "get":
            store.get_preference("theme")
        else:
            store.set_preference("theme", "dark")
    assert str(caught.value) == expected


def test_a_later_migration_can_widen_the_provider_check(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.set_default_provider("groq")
        store.set_default_persona_id("calm-documentary-narrator")
        with store._db.locked() as conn:
            before = conn.execute("SELECT * FROM user_preferences").fetchall()

    with Store.open(db_path, migrations=[*default_migrations(), WIDEN_PROVIDERS]) as store:
        with store._db.locked() as conn:
            assert conn.execute("SELECT * FROM user_preferences").fetchall() == before  # data kept
            assert check_names(conn) == (*VALID_PROVIDERS, "mistral")
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
            assert versions == [*SHIPPED, WIDEN_PROVIDERS.version]
            conn.execute("UPDATE user_preferences SET default_llm_provider = 'mistral'")  # now accepted
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute("UPDATE user_preferences SET default_llm_provider = 'cohere'")
            # The rebuilt table's foreign key still works.
            conn.execute("DELETE FROM system_prompts WHERE id = 'calm-documentary-narrator'")
            assert conn.execute("SELECT default_persona_id FROM user_preferences").fetchone() == (None,)
        # Until VALID_PROVIDERS grows in the same release, the API still refuses the new name (and reads a
        # value it doesn't know as the default rather than breaking).
        assert store.get_default_provider() == "ollama"
        with pytest.raises(InvalidPreferenceError):
            store.set_default_provider("mistral")


def test_0003_widens_the_check_keeping_every_earlier_row(db_path: Path) -> None:
    """A database written by 0001 and 0002 (scripts, ledger, preferences, settings) survives 0003 intact."""
    from app.store.records import RequestRecord

    earlier = [m for m in default_migrations() if m.version < 3]
    with Store.open(db_path, migrations=earlier) as store:
        store.set_default_provider("gemini")
        store.set_default_persona_id("energetic-youtuber")
        script_id = store.create_script("Tides", store.default_persona(), "gemini", "gemini-2.5-flash", 300)
        store.record_request(
            RequestRecord(
                provider="gemini",
                model="gemini-2.5-flash",
                started_at=1_700_000_000.0,
                outcome="ok",
                script_id=script_id,
            )
        )
        store.set_setting("groq.model", "llama-3.1-8b-instant")
        with store._db.locked() as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            before = {t: conn.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute("UPDATE user_preferences SET default_llm_provider = 'anthropic'")

    with Store.open(db_path) as store:
        with store._db.locked() as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
            assert versions == [m.version for m in default_migrations()]
            for table, rows in before.items():
                if table != "schema_migrations":
                    assert conn.execute(f"SELECT * FROM {table}").fetchall() == rows, table
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store.get_saved_provider() == "gemini"
        assert store.get_default_persona_id() == "energetic-youtuber"
        for name in ("anthropic", "openai", "openai:lm-studio"):
            store.set_default_provider(name)
            assert store.get_saved_provider() == name
        with pytest.raises(InvalidPreferenceError):
            store.set_default_provider("openai:Not A Slug")


# --- remembered reads: every generation reads these, so they are answered from memory ---------------------


def test_a_change_by_another_process_is_seen_though_reads_are_remembered(
    store: Store, raw: sqlite3.Connection
) -> None:
    store.set_default_provider("groq")
    assert store.get_saved_provider() == "groq"
    raw.execute("UPDATE user_preferences SET default_llm_provider = 'gemini'")  # the CLI, say
    assert store.get_saved_provider() == "gemini"
    raw.execute("UPDATE system_prompts SET name = 'Explainer' WHERE id = 'educational-explainer'")
    assert store.get_persona("educational-explainer").name == "Explainer"  # type: ignore[union-attr]


def test_remembered_reads_do_not_touch_the_database_until_something_changes(store: Store) -> None:
    store.get_saved_provider(), store.default_persona(), store.list_personas()
    statements: list[str] = []
    store._db._conn.set_trace_callback(statements.append)
    for _ in range(3):
        store.get_saved_provider(), store.default_persona(), store.list_personas()
    assert all(s == "PRAGMA data_version" for s in statements)  # one cheap check per read, no query
    store.set_default_persona_id("calm-documentary-narrator")
    # The store's own write forgot what it knew.
    assert store.default_persona().id == "calm-documentary-narrator"
    store._db._conn.set_trace_callback(None)


def test_a_remembered_read_does_not_wait_for_the_background_writer(store: Store) -> None:
    import threading

    store.set_default_provider("groq")
    assert store.get_saved_provider() == "groq"
    release, parked = threading.Event(), threading.Event()
    store.later(lambda: (parked.set(), release.wait(10)))  # the writer holds the connection mid-batch
    assert parked.wait(10)
    try:
        assert store.get_saved_provider() == "groq"  # answered at once, not after the batch
        assert not release.is_set()
    finally:
        release.set()
