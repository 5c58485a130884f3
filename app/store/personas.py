"""Personas: the system prompts in table `system_prompts`."""

from __future__ import annotations

import sqlite3
from typing import Any

from app.store.errors import StoreError
from app.store.records import Persona, column_names, row_to_dict

_COLUMNS = column_names(Persona)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM system_prompts"


def _persona(row: tuple[Any, ...]) -> Persona:
    values = row_to_dict(_COLUMNS, row)
    values["is_default"] = bool(values["is_default"])
    return Persona(**values)


def list_personas(conn: sqlite3.Connection) -> list[Persona]:
    """The default first, then by name."""
    return [_persona(row) for row in conn.execute(f"{_SELECT} ORDER BY is_default DESC, name")]


def get_persona(conn: sqlite3.Connection, id_or_name: str) -> Persona | None:
    """By id, else by name ignoring case (the column's collation is NOCASE)."""
    row = conn.execute(f"{_SELECT} WHERE id = ?", (id_or_name,)).fetchone()
    if row is None:
        row = conn.execute(f"{_SELECT} WHERE name = ?", (id_or_name.strip(),)).fetchone()
    return None if row is None else _persona(row)


def persona_exists(conn: sqlite3.Connection, persona_id: str) -> bool:
    return conn.execute("SELECT 1 FROM system_prompts WHERE id = ?", (persona_id,)).fetchone() is not None


def persona_ids(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT id FROM system_prompts ORDER BY id")]


def default_persona(conn: sqlite3.Connection, preferred_id: str | None) -> Persona:
    """The user's chosen persona if it still exists, else the flagged default, else the first by name."""
    if preferred_id is not None:
        row = conn.execute(f"{_SELECT} WHERE id = ?", (preferred_id,)).fetchone()
        if row is not None:
            return _persona(row)
    row = conn.execute(f"{_SELECT} ORDER BY is_default DESC, name LIMIT 1").fetchone()
    if row is None:
        raise StoreError("There are no personas in the database; add one in Settings before generating.")
    return _persona(row)
