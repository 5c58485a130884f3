"""Opening the database and running its numbered migrations.

Migrations are the files `app/store/migrations/NNNN_name.sql`. Each is applied in ONE transaction together
with its row in `schema_migrations`, so a migration is either entirely there or not at all. The connection
runs in autocommit mode (`isolation_level=None`): the sqlite3 module's implicit transactions get in the way
of DDL, and `executescript()` always commits first, so the runner splits each file into statements and runs
them one by one between its own `BEGIN IMMEDIATE` and `COMMIT`.

Writing a later migration that changes a table's constraints (for example widening
`CHECK(default_llm_provider IN (...))` to accept a new provider): SQLite cannot ALTER a constraint, so
rebuild the table inside the migration:

    PRAGMA defer_foreign_keys = ON;      -- checks run at COMMIT, after the rename has put things back
    CREATE TABLE user_preferences_new (... the same columns, the new CHECK ...);
    INSERT INTO user_preferences_new (cols...) SELECT cols... FROM user_preferences;
    DROP TABLE user_preferences;
    ALTER TABLE user_preferences_new RENAME TO user_preferences;
    -- then recreate the table's indexes and triggers, which DROP TABLE removed

`PRAGMA foreign_keys = OFF` does nothing inside a transaction (the runner refuses it, so nobody relies on
it by mistake). The recipe above is safe for a table that no other table references, like
`user_preferences`. Rebuilding a table that others DO reference (`system_prompts`, `scripts`) is different:
with foreign keys on, `DROP TABLE` first deletes every row, which fires the children's
`ON DELETE SET NULL` even when checks are deferred, and silently unlinks them. Declare such a migration
`Migration(..., disable_foreign_keys=True)`: the runner then switches enforcement off before `BEGIN`, runs
`PRAGMA foreign_key_check` before `COMMIT` (a dangling reference rolls the migration back), and switches
enforcement on again afterwards. This is SQLite's documented 12-step procedure for "other kinds of table
schema changes" (https://www.sqlite.org/lang_altertable.html).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from app.store.errors import StoreError
from app.store.writer import WriteBehind

BUSY_TIMEOUT_MS = 5000
# Every timestamp column except the seed-defined user_preferences one uses this ISO 8601 UTC shape.
SQL_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")
_LEADING_COMMENTS = re.compile(r"^(?:\s*--[^\n]*(?:\n|$)|\s*/\*.*?\*/)*\s*", re.DOTALL)
_PRAGMA_FOREIGN_KEYS = re.compile(r"^PRAGMA\s+(?:main\.)?foreign_keys\b", re.IGNORECASE)

_SCHEMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT,
    applied_at TEXT
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    # For rebuilding a table that other tables reference; see the module docstring.
    disable_foreign_keys: bool = False

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def default_migrations() -> list[Migration]:
    """The migrations shipped in `app/store/migrations` (package data, so this works from a wheel too)."""
    return load_migrations(resources.files("app.store").joinpath("migrations"))


def load_migrations(folder: Traversable) -> list[Migration]:
    """Every `NNNN_name.sql` in `folder`, in version order; other files are ignored."""
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"Two migration files share version {version:04d}.")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def split_statements(sql: str) -> list[str]:
    """Split a SQL script into single statements, respecting strings, comments and trigger bodies.

    A `;` ends a statement only where `sqlite3.complete_statement` agrees, so a `;` inside a literal or
    inside `CREATE TRIGGER ... BEGIN ...; END;` does not.
    """
    statements: list[str] = []
    start = 0
    position = sql.find(";")
    while position != -1:
        candidate = sql[start : position + 1]
        if sqlite3.complete_statement(candidate):
            statements.append(candidate.strip())
            start = position + 1
        position = sql.find(";", position + 1)
    tail = sql[start:].strip()
    if _LEADING_COMMENTS.sub("", tail):
        statements.append(tail)  # a last statement without its `;`
    return statements


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at `path` with the app's pragmas.

    Raises StoreError, naming the file, when it cannot be opened or is not a healthy SQLite database.
    """
    try:
        # Autocommit mode: transactions are explicit (see the module docstring). check_same_thread=False
        # because the owner (Store) serialises access with a lock and runs on the asyncio thread.
        # `timeout` is SQLite's busy_timeout: how long to wait for another connection's write lock.
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlite3.Error as error:
        raise StoreError(f"Could not open the database at {path}: {error}.") from error
    try:
        # The first statement that reads the file: a damaged or foreign file fails here.
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            _enable_wal(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        # With WAL, NORMAL is durable across application crashes and much faster than FULL.
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as error:
        conn.close()
        raise translate_error(error, path) from error
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a new file to WAL (a persistent setting, so this happens once per file).

    The switch needs an exclusive lock, and when several connections open the same fresh file at once SQLite
    reports BUSY straight away instead of waiting in the busy handler, so retry within the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def is_damage(error: sqlite3.Error) -> bool:
    name = getattr(error, "sqlite_errorname", "") or ""
    return name == "SQLITE_NOTADB" or name.startswith("SQLITE_CORRUPT")


def damaged_error(path: Path | str, error: sqlite3.Error) -> StoreError:
    return StoreError(
        f"The database at {path} is damaged: {error}. Move it aside and restart; a new one will be created."
    )


def translate_error(error: sqlite3.Error, path: Path | str) -> StoreError:
    if is_damage(error):
        return damaged_error(path, error)
    return StoreError(f"Could not open the database at {path}: {error}.")


def database_file(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()
    return str(row[0]) if row and row[0] else ":memory:"


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid of a one-row INSERT (typed as optional by sqlite3, but always set there)."""
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def applied_versions(conn: sqlite3.Connection) -> set[int]:
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] | None = None) -> list[int]:
    """Apply the migrations not yet recorded, oldest first; return the versions applied (empty: a no-op).

    `migrations` defaults to `default_migrations()`; tests and future code may pass an extended list.
    """
    ordered = sorted(default_migrations() if migrations is None else migrations, key=lambda m: m.version)
    versions = [m.version for m in ordered]
    if len(set(versions)) != len(versions):
        raise StoreError(f"Migration versions must be unique, got {versions}.")
    conn.execute(_SCHEMA_MIGRATIONS_DDL)
    applied = applied_versions(conn)
    newest_known = versions[-1] if versions else 0
    if applied and max(applied) > newest_known:
        raise StoreError(
            f"The database at {database_file(conn)} was written by a newer version of Scriptwright "
            f"(schema {max(applied)}; this version knows up to {newest_known}). "
            "Update Scriptwright, or move the file aside to start afresh."
        )
    done: list[int] = []
    for migration in ordered:
        if migration.version not in applied and _apply(conn, migration):
            done.append(migration.version)
    return done


def _apply(conn: sqlite3.Connection, migration: Migration) -> bool:
    statements = split_statements(migration.sql)
    for statement in statements:
        if _PRAGMA_FOREIGN_KEYS.match(_LEADING_COMMENTS.sub("", statement)):
            raise StoreError(
                f"Migration {migration.label} sets PRAGMA foreign_keys, which has no effect inside its "
                "transaction; declare it with disable_foreign_keys=True instead."
            )
    if migration.disable_foreign_keys:
        conn.execute("PRAGMA foreign_keys = OFF")  # only possible outside a transaction
    try:
        conn.execute("BEGIN IMMEDIATE")
        # Another process may have applied it while we waited for the write lock.
        if migration.version in applied_versions(conn):
            conn.execute("ROLLBACK")
            return False
        for statement in statements:
            conn.execute(statement)
        if migration.disable_foreign_keys:
            dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise sqlite3.IntegrityError(f"dangling foreign keys (table, rowid, parent): {dangling[:5]}")
        conn.execute(
            f"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, {SQL_NOW})",
            (migration.version, migration.name),
        )
        conn.execute("COMMIT")
    except sqlite3.Error as error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if is_damage(error):
            raise damaged_error(database_file(conn), error) from error
        raise StoreError(
            f"Database migration {migration.label} failed and was rolled back, so the database is unchanged: "
            f"{error}."
        ) from error
    finally:
        if migration.disable_foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")
    return True


class Database:
    """One connection shared by threads under a lock: SQLite connections are not safe to use concurrently."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self._conn = conn
        # Re-entrant: a queued write runs store methods inside the writer's own transaction.
        self._lock = threading.RLock()
        self.writes = WriteBehind(self.transaction)

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """Exclusive use of the connection in autocommit mode: each statement is its own transaction.

        Enough for reads and single-statement writes, and the cheapest path (no BEGIN/COMMIT round trips).
        Writes queued on the background writer before this call land first, so a read sees them.
        """
        if self.writes.pending:
            self.writes.flush()
        with self._lock:
            try:
                yield self._conn
            except sqlite3.DatabaseError as error:
                if is_damage(error):
                    raise damaged_error(self.path, error) from error
                raise

    def data_version(self) -> int | None:
        """`PRAGMA data_version`: it changes when another connection commits. None, without waiting, while
        another thread is using the connection."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None  # the caller then reads through locked(), which reports what is wrong
        finally:
            self._lock.release()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Exclusive use of the connection inside `BEGIN IMMEDIATE ... COMMIT`, rolled back on any exception.

        IMMEDIATE takes the write lock up front, so a read-then-write never fails half way with "database is
        locked" when another connection wrote in between; waiting for that lock is bounded by busy_timeout.
        """
        with self.locked() as conn:
            if conn.in_transaction:  # nested on the same thread (a queued write in the writer's batch)
                yield from _savepoint(conn)
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self.writes.close()  # what is queued is written first
        with self._lock:
            try:
                self._conn.execute("PRAGMA optimize")  # cheap; keeps the query planner's statistics useful
            except sqlite3.Error:
                pass  # closing must not fail because housekeeping did (or the connection is already closed)
            finally:
                self._conn.close()


def _savepoint(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A transaction inside a transaction: rolled back alone on an exception, kept otherwise."""
    conn.execute("SAVEPOINT nested")
    try:
        yield conn
        conn.execute("RELEASE nested")
    except BaseException:
        conn.execute("ROLLBACK TO nested")
        conn.execute("RELEASE nested")
        raise
