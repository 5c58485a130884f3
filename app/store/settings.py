"""Generic settings (table `settings`): JSON values under dotted keys such as "groq.model".

API keys never come here; they belong in the OS keychain, and keys named like secrets are refused.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from app.store.db import SQL_NOW
from app.store.errors import StoreError

_SECRET_NAMES = frozenset({"api_key", "apikey", "api-key", "secret", "password"})


def _check_key(key: str) -> None:
    if not key.strip():
        raise StoreError("A setting needs a non-empty key.")
    if key.rsplit(".", 1)[-1].lower() in _SECRET_NAMES:
        raise StoreError(f"'{key}' looks like a secret; secrets belong in the OS keychain, not in settings.")


def _encode(value: Any) -> str:
    # allow_nan=False: NaN/Infinity are not JSON, and other readers of the file would choke on them.
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def get_setting(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return default if row is None else json.loads(row[0])


def set_setting(conn: sqlite3.Connection, key: str, value: Any) -> None:
    _check_key(key)
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        f"ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = {SQL_NOW}",
        (key, _encode(value)),
    )


def set_settings(conn: sqlite3.Connection, mapping: Mapping[str, Any]) -> None:
    """Several settings at once; the caller wraps this in a transaction, so all land or none do."""
    for key, value in mapping.items():
        set_setting(conn, key, value)


def delete_setting(conn: sqlite3.Connection, key: str) -> bool:
    return conn.execute("DELETE FROM settings WHERE key = ?", (key,)).rowcount > 0


def settings_with_prefix(conn: sqlite3.Connection, prefix: str) -> dict[str, Any]:
    """All settings whose key starts with `prefix`, keys unchanged.

    substr() rather than LIKE, whose `_` wildcard would match in keys like "rate_limit".
    """
    rows = conn.execute(
        "SELECT key, value FROM settings WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix)
    )
    return {key: json.loads(value) for key, value in rows}
