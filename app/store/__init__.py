"""Scriptwright's local SQLite store: preferences, personas, script history, the request ledger, settings.

stdlib `sqlite3` only, no Qt. Open one with `Store.open()`; see `app.store.db` for the migration rules.
"""

from app.store.db import Migration
from app.store.errors import InvalidPreferenceError, StoreError
from app.store.paths import data_dir, database_path
from app.store.preferences import VALID_PROVIDERS
from app.store.records import Persona, RequestRecord, ScriptRecord
from app.store.store import Store

__all__ = [
    "VALID_PROVIDERS",
    "InvalidPreferenceError",
    "Migration",
    "Persona",
    "RequestRecord",
    "ScriptRecord",
    "Store",
    "StoreError",
    "data_dir",
    "database_path",
]
