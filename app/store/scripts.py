"""Script history (table `scripts`) and its full-text search."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from app.store.db import SQL_NOW, inserted_id
from app.store.errors import StoreError
from app.store.records import SCRIPT_STATUSES, Persona, ScriptRecord, ScriptStatus, column_names

_COLUMNS = column_names(ScriptRecord)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM scripts"
# Ids break ties on created_at (two scripts in one millisecond), so the order is total and a page can end on
# any script: the next starts strictly after it.
_NEWEST_FIRST = "ORDER BY created_at DESC, id DESC LIMIT ?"
# A persona deleted since the script was written becomes NULL here instead of failing the foreign key.
_PERSONA_ID_IF_EXISTS = "(SELECT id FROM system_prompts WHERE id = ?)"

_RESTORED_COLUMNS = tuple(name for name in _COLUMNS if name != "id")
_RESTORE = (
    f"INSERT INTO scripts (id, {', '.join(_RESTORED_COLUMNS)}) VALUES (?, "
    + ", ".join(_PERSONA_ID_IF_EXISTS if name == "persona_id" else "?" for name in _RESTORED_COLUMNS)
    + ")"
)

# Letters and digits, as FTS5's unicode61 tokenizer sees words (it splits on "_" and punctuation).
_WORD = re.compile(r"[^\W_]+")


def _record(row: tuple[Any, ...]) -> ScriptRecord:
    return ScriptRecord(*row)  # _COLUMNS is the dataclass's field order


def create_script(
    conn: sqlite3.Connection,
    topic: str,
    persona: Persona | None,
    provider: str,
    model: str,
    target_words: int | None,
) -> int:
    cursor = conn.execute(
        "INSERT INTO scripts (topic, persona_id, persona_name, provider, model, target_words, status) "
        f"VALUES (?, {_PERSONA_ID_IF_EXISTS}, ?, ?, ?, ?, 'generating')",
        (
            topic,
            persona.id if persona else None,
            persona.name if persona else None,
            provider,
            model,
            target_words,
        ),
    )
    return inserted_id(cursor)


def finish_script(
    conn: sqlite3.Connection,
    script_id: int,
    *,
    text: str,
    status: ScriptStatus,
    provider: str,
    model: str,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    total_tokens: int | None = None,
    latency_ms: float | None = None,
    ttft_ms: float | None = None,
    finish_reason: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    if status not in SCRIPT_STATUSES:
        raise ValueError(f"Unknown script status {status!r}; expected one of {', '.join(SCRIPT_STATUSES)}.")
    cursor = conn.execute(
        "UPDATE scripts SET text = ?, status = ?, provider = ?, model = ?, prompt_tokens = ?, "
        "completion_tokens = ?, total_tokens = ?, latency_ms = ?, time_to_first_token_ms = ?, "
        f"finish_reason = ?, error_code = ?, error_message = ?, updated_at = {SQL_NOW} WHERE id = ?",
        (
            text,
            status,
            provider,
            model,
            prompt_tokens,
            completion_tokens,
            total_tokens,
            latency_ms,
            ttft_ms,
            finish_reason,
            error_code,
            error_message,
            script_id,
        ),
    )
    if cursor.rowcount == 0:
        raise StoreError(f"Script {script_id} is no longer in the history, so its result could not be saved.")


def get_script(conn: sqlite3.Connection, script_id: int) -> ScriptRecord | None:
    row = conn.execute(f"{_SELECT} WHERE id = ?", (script_id,)).fetchone()
    return None if row is None else _record(row)


def fts_query(search: str) -> str | None:
    """Turn what the user typed into an FTS5 query: every word must appear, as a word or a word's start.

    Each word is quoted, so FTS5 operators and punctuation in the input are never interpreted.
    None when the input has no word characters at all.
    """
    words = _WORD.findall(search)
    return " ".join(f'"{word}"*' for word in words) if words else None


def _matching(search: str | None) -> tuple[list[str], list[Any]]:
    """The conditions (and their parameters) for the scripts `search` finds: every script for a blank one."""
    if search is None or not search.strip():
        return [], []
    if (query := fts_query(search)) is not None:
        return ["id IN (SELECT rowid FROM scripts_fts WHERE scripts_fts MATCH ?)"], [query]
    # Only punctuation (say "?!"): the word index cannot see it, so fall back to a substring scan.
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search.strip()) + "%"
    return ["(topic LIKE ? ESCAPE '\\' OR text LIKE ? ESCAPE '\\')"], [pattern, pattern]


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def list_scripts(
    conn: sqlite3.Connection,
    limit: int = 50,
    search: str | None = None,
    before: tuple[str, int] | None = None,
) -> list[ScriptRecord]:
    """Newest first; with `search`, only scripts whose topic or text contains every word typed.

    `before` is the (created_at, id) of the last script of the previous page: only older scripts are listed,
    so a script added or deleted meanwhile neither repeats nor skips one (as counting rows would).
    """
    conditions, parameters = _matching(search)
    if before is not None:
        conditions.append("(created_at, id) < (?, ?)")  # the index on created_at (and rowid) serves it
        parameters += before
    rows = conn.execute(f"{_SELECT} {_where(conditions)} {_NEWEST_FIRST}", (*parameters, limit))
    return [_record(row) for row in rows]


def count_scripts(conn: sqlite3.Connection, search: str | None = None) -> int:
    """How many scripts `list_scripts` would page through for `search`."""
    conditions, parameters = _matching(search)
    (count,) = conn.execute(f"SELECT count(*) FROM scripts {_where(conditions)}", parameters).fetchone()
    return int(count)


def delete_script(conn: sqlite3.Connection, script_id: int) -> ScriptRecord | None:
    """Delete and return the script (for undo). Call inside a transaction: it reads, then writes."""
    record = get_script(conn, script_id)
    if record is not None:
        conn.execute("DELETE FROM scripts WHERE id = ?", (script_id,))
    return record


def restore_script(conn: sqlite3.Connection, record: ScriptRecord) -> int:
    """Put a deleted script back with its id and timestamps; call inside a transaction.

    The id is reused unless something already holds it (a second undo), in which case a new one is given.
    Ledger rows that pointed at the script were unlinked by the delete and stay unlinked.
    """
    taken = conn.execute("SELECT 1 FROM scripts WHERE id = ?", (record.id,)).fetchone() is not None
    values = [getattr(record, name) for name in _RESTORED_COLUMNS]
    return inserted_id(conn.execute(_RESTORE, (None if taken else record.id, *values)))
