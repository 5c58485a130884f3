"""The single-row `user_preferences` table: default provider and default persona."""

from __future__ import annotations

import re
import sqlite3

from app.store import personas
from app.store.errors import InvalidPreferenceError

# Must list exactly the names in the table's CHECK (migrations/0003_openai_anthropic.sql); a test holds them
# together. Besides these, the CHECK accepts named OpenAI-compatible instances: `openai:<slug>`.
VALID_PROVIDERS: tuple[str, ...] = ("ollama", "gemini", "groq", "openai", "anthropic")
INSTANCE_PATTERN = re.compile(r"openai:[a-z0-9][a-z0-9-]{0,39}")
DEFAULT_PROVIDER = "ollama"

PROVIDER_KEY = "default_llm_provider"
PERSONA_KEY = "default_persona_id"
PREFERENCE_KEYS: tuple[str, ...] = (PROVIDER_KEY, PERSONA_KEY)

_ROW_ID = "default"


def _read(conn: sqlite3.Connection, column: str) -> str | None:
    row = conn.execute(f"SELECT {column} FROM user_preferences WHERE id = ?", (_ROW_ID,)).fetchone()
    return None if row is None else row[0]


def _write(conn: sqlite3.Connection, column: str, value: str | None) -> None:
    # An upsert, so a row deleted by hand comes back instead of the write being silently lost.
    conn.execute(
        f"INSERT INTO user_preferences (id, {column}) VALUES (?, ?) "
        f"ON CONFLICT (id) DO UPDATE SET {column} = excluded.{column}, updated_at = datetime('now')",
        (_ROW_ID, value),
    )


def is_valid_provider(name: object) -> bool:
    """A built-in provider, or the id of a named OpenAI-compatible instance (whether it still exists is the
    core's business: an unknown one falls back like any unknown name)."""
    return isinstance(name, str) and (name in VALID_PROVIDERS or INSTANCE_PATTERN.fullmatch(name) is not None)


def validate_provider(name: str | None) -> str:
    """Normalise a provider name, or raise InvalidPreferenceError naming the valid ones."""
    normalised = (name or "").strip().lower()
    if not is_valid_provider(normalised):
        choices = ", ".join(VALID_PROVIDERS)
        raise InvalidPreferenceError(
            f"Unknown provider '{name}'. Choose one of: {choices}, or openai:<name> for a named instance."
        )
    return normalised


def get_default_provider(conn: sqlite3.Connection) -> str:
    value = _read(conn, PROVIDER_KEY)
    # A name this version does not know (written by a newer one) falls back rather than breaking the app.
    return value if value is not None and is_valid_provider(value) else DEFAULT_PROVIDER


def get_saved_provider(conn: sqlite3.Connection) -> str | None:
    """The provider the user chose, or None when they never chose (or it is unknown to this version)."""
    value = _read(conn, PROVIDER_KEY)
    return value if value is not None and is_valid_provider(value) else None


def set_default_provider(conn: sqlite3.Connection, name: str) -> None:
    _write(conn, PROVIDER_KEY, validate_provider(name))


def get_default_persona_id(conn: sqlite3.Connection) -> str | None:
    return _read(conn, PERSONA_KEY)


def set_default_persona_id(conn: sqlite3.Connection, persona_id: str | None) -> None:
    """Set (or with None, clear) the default persona; an unknown id raises InvalidPreferenceError."""
    if persona_id is not None and not personas.persona_exists(conn, persona_id):
        raise InvalidPreferenceError(
            f"Unknown persona '{persona_id}'. Choose one of: {', '.join(personas.persona_ids(conn))}."
        )
    _write(conn, PERSONA_KEY, persona_id)


def _check_key(key: str) -> None:
    if key not in PREFERENCE_KEYS:
        choices = ", ".join(PREFERENCE_KEYS)
        raise InvalidPreferenceError(f"Unknown preference '{key}'. Choose one of: {choices}.")


def get_preference(conn: sqlite3.Connection, key: str) -> str | None:
    _check_key(key)
    return get_default_provider(conn) if key == PROVIDER_KEY else get_default_persona_id(conn)


def set_preference(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    """The CLI's `prefs set`: the persona may be given by id or by name; empty or None clears it."""
    _check_key(key)
    if key == PROVIDER_KEY:
        _write(conn, PROVIDER_KEY, validate_provider(value))
        return
    if value is None or not value.strip():
        set_default_persona_id(conn, None)
        return
    persona = personas.get_persona(conn, value)
    set_default_persona_id(conn, persona.id if persona else value)
