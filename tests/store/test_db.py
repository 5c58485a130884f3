"""Connection pragmas, the migration runner, and damaged files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.store import Migration, Store, StoreError, db
from app.store.db import (
    _apply,
    _enable_wal,
    connect,
    default_migrations,
    load_migrations,
    migrate,
    split_statements,
)

SHIPPED = [m.version for m in default_migrations()]  # the migrations this version ships
NEXT = SHIPPED[-1] + 1  # a later release's migration

EXPECTED_TABLES = {
    "schema_migrations",
    "system_prompts",
    "user_preferences",
    "scripts",
    "requests",
    "settings",
}


def migration_rows(path: Path) -> list[tuple[int, str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    finally:
        conn.close()


def table_names(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_fresh_database_has_the_schema_and_pragmas(store: Store, raw: sqlite3.Connection) -> None:
    assert table_names(raw) >= EXPECTED_TABLES
    assert "scripts_fts" in table_names(raw)
    with store._db.locked() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.isolation_level is None
    assert [row[:2] for row in migration_rows(store.path)] == [
        (1, "initial"),
        (2, "usage_costs_cache"),
        (3, "openai_anthropic"),
        (4, "cache_size_index"),
    ]


def test_second_open_is_a_no_op(db_path: Path) -> None:
    Store.open(db_path).close()
    before = migration_rows(db_path)
    conn = connect(db_path)
    try:
        assert migrate(conn) == []
    finally:
        conn.close()
    Store.open(db_path).close()
    assert migration_rows(db_path) == before


def test_default_migrations_are_found_as_package_data() -> None:
    migrations = default_migrations()
    assert [m.label for m in migrations] == [
        "0001_initial",
        "0002_usage_costs_cache",
        "0003_openai_anthropic",
        "0004_cache_size_index",
    ]
    assert "CREATE TABLE user_preferences" in migrations[0].sql


def test_load_migrations_reads_numbered_files_only(tmp_path: Path) -> None:
    (tmp_path / "0002_second.sql").write_text("SELECT 2;", encoding="utf-8")
    (tmp_path / "0001_first.sql").write_text("SELECT 1;", encoding="utf-8")
    (tmp_path / "README.md").write_text("not a migration", encoding="utf-8")
    (tmp_path / "3_bad_name.sql").write_text("SELECT 3;", encoding="utf-8")
    assert load_migrations(tmp_path) == [
        Migration(1, "first", "SELECT 1;"),
        Migration(2, "second", "SELECT 2;"),
    ]
    (tmp_path / "0002_clash.sql").write_text("SELECT 2;", encoding="utf-8")
    with pytest.raises(StoreError, match="Two migration files share version 0002"):
        load_migrations(tmp_path)


def test_a_failing_migration_rolls_back_entirely(db_path: Path) -> None:
    Store.open(db_path).close()
    broken = Migration(
        NEXT, "broken", "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    with pytest.raises(StoreError, match=rf"{NEXT:04d}_broken failed and was rolled back.*no such table"):
        Store.open(db_path, migrations=[*default_migrations(), broken])
    conn = sqlite3.connect(db_path)
    try:
        assert "half_done" not in table_names(conn)
    finally:
        conn.close()
    assert [row[0] for row in migration_rows(db_path)] == SHIPPED
    # The failed open released the file: the app still opens it normally.
    with Store.open(db_path) as store:
        assert store.get_default_provider() == "ollama"


def test_a_failing_first_migration_leaves_no_tables(db_path: Path) -> None:
    broken = Migration(1, "broken", "CREATE TABLE a (x);\nCREATE TABLE a (x);")
    with pytest.raises(StoreError, match="0001_broken"):
        Store.open(db_path, migrations=[broken])
    conn = sqlite3.connect(db_path)
    try:
        assert table_names(conn) == {"schema_migrations"}
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 0
    finally:
        conn.close()


def test_migrations_apply_in_version_order_and_return_what_ran(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db")
    try:
        second = Migration(20, "second", "INSERT INTO t VALUES ('second');")
        first = Migration(10, "first", "CREATE TABLE t (v TEXT);")
        assert migrate(conn, [second, first]) == [10, 20]
        assert migrate(conn, [second, first]) == []
        assert conn.execute("SELECT v FROM t").fetchall() == [("second",)]
    finally:
        conn.close()


def test_duplicate_versions_are_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db")
    try:
        with pytest.raises(StoreError, match="unique"):
            migrate(conn, [Migration(1, "a", "SELECT 1;"), Migration(1, "b", "SELECT 2;")])
    finally:
        conn.close()


def test_a_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    newer = Migration(7, "from_the_future", "CREATE TABLE future (x);")
    Store.open(db_path, migrations=[*default_migrations(), newer]).close()
    with pytest.raises(
        StoreError,
        match=rf"newer version of Scriptwright \(schema 7; this version knows up to {SHIPPED[-1]}\)",
    ):
        Store.open(db_path)


def test_a_migration_that_cannot_get_the_write_lock_fails_cleanly(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(db_path).close()
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 50)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        with pytest.raises(StoreError, match=rf"{NEXT:04d}_later failed.*database is locked"):
            Store.open(
                db_path, migrations=[*default_migrations(), Migration(NEXT, "later", "CREATE TABLE t (x);")]
            )
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_pragma_foreign_keys_in_a_migration_is_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db")
    try:
        bad = Migration(
            1, "fk_off", "-- tries the usual trick\nPRAGMA foreign_keys = OFF;\nCREATE TABLE t (x);"
        )
        with pytest.raises(StoreError, match="disable_foreign_keys=True"):
            migrate(conn, [bad])
        assert "t" not in table_names(conn)
    finally:
        conn.close()


def test_a_migration_already_applied_by_another_connection_is_skipped(db_path: Path) -> None:
    # The race: two processes both saw version 1 missing; the second gets the write lock after the first
    # committed and must notice, inside its transaction, that there is nothing left to do.
    Store.open(db_path).close()
    conn = connect(db_path)
    try:
        assert _apply(conn, default_migrations()[0]) is False
        assert not conn.in_transaction
    finally:
        conn.close()
    assert [row[0] for row in migration_rows(db_path)] == SHIPPED


def test_simultaneous_first_opens_migrate_once(db_path: Path) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_it() -> None:
        try:
            barrier.wait()
            Store.open(db_path).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [row[0] for row in migration_rows(db_path)] == SHIPPED


# Damaged files


def corrupt_scripts_table(db_path: Path) -> None:
    """A valid file whose `scripts` table has a garbage root page: opening works, reading scripts does not."""
    with Store.open(db_path) as store:
        for i in range(50):
            store.create_script(f"topic {i}", None, "ollama", "llama3.2", 100)
        with store._db.locked() as conn:
            sql = "SELECT rootpage FROM sqlite_master WHERE name = 'scripts'"
            root_page = conn.execute(sql).fetchone()[0]
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with db_path.open("r+b") as handle:  # closing checkpointed the WAL, so the table lives in the main file
        handle.seek((root_page - 1) * page_size)
        handle.write(b"\xff" * page_size)


def test_garbage_file_gives_a_clear_error_and_is_left_alone(db_path: Path) -> None:
    garbage = bytes(range(256)) * 64
    db_path.write_bytes(garbage)
    with pytest.raises(StoreError) as caught:
        Store.open(db_path)
    message = str(caught.value)
    assert f"The database at {db_path} is damaged" in message
    assert "Move it aside and restart; a new one will be created." in message
    assert db_path.read_bytes() == garbage
    assert [p.name for p in db_path.parent.iterdir()] == [db_path.name]


def test_damage_found_after_opening_is_reported_the_same_way(db_path: Path) -> None:
    corrupt_scripts_table(db_path)
    with Store.open(db_path) as store, pytest.raises(StoreError, match="is damaged"):
        store.list_scripts()


def test_damage_met_by_a_migration_is_reported_as_damage(db_path: Path) -> None:
    corrupt_scripts_table(db_path)
    touch = Migration(NEXT, "touch_scripts", "UPDATE scripts SET topic = topic || '';")
    with pytest.raises(StoreError, match=r"is damaged.*Move it aside"):
        Store.open(db_path, migrations=[*default_migrations(), touch])


def test_a_directory_in_the_way_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scriptwright.db"
    path.mkdir()
    with pytest.raises(StoreError, match=f"Could not open the database at {path}"):
        Store.open(path)


def test_schema_read_errors_become_store_errors(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_migrate(conn: sqlite3.Connection, migrations: object = None) -> list[int]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("app.store.store.migrate", failing_migrate)
    with pytest.raises(StoreError, match=r"Could not open the database at .*disk I/O error"):
        Store.open(db_path)


def test_connect_failure_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="Could not open"):
        connect(tmp_path / "missing-dir" / "x.db")


class _BusyThenFine:
    """Stands in for a connection whose WAL switch meets another opener's lock a couple of times."""

    def __init__(self, failures: int, name: str = "SQLITE_BUSY") -> None:
        self.failures = failures
        self.name = name
        self.calls = 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorname = self.name
            raise error


def test_switching_to_wal_retries_while_another_opener_holds_the_lock() -> None:
    conn = _BusyThenFine(failures=2)
    _enable_wal(conn)  # type: ignore[arg-type]
    assert conn.calls == 3


def test_switching_to_wal_gives_up_on_other_errors() -> None:
    with pytest.raises(sqlite3.OperationalError):
        _enable_wal(_BusyThenFine(failures=1, name="SQLITE_IOERR"))  # type: ignore[arg-type]


def test_transaction_rolls_back_and_reraises(store: Store) -> None:
    with pytest.raises(RuntimeError), store._db.transaction() as conn:
        conn.execute("INSERT INTO settings (key, value) VALUES ('k', '1')")
        raise RuntimeError("boom")
    assert store.get_setting("k") is None
    with pytest.raises(RuntimeError), store._db.transaction() as conn:
        conn.execute("ROLLBACK")  # whatever ended the transaction early, the original error surfaces
        raise RuntimeError("boom")


def test_close_is_idempotent(db_path: Path) -> None:
    store = Store.open(db_path)
    store.close()
    store.close()


# Statement splitting


def test_split_respects_strings_comments_and_triggers() -> None:
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT); /* block; comment */
    INSERT INTO t VALUES ('a;b'';c');
    CREATE TRIGGER trg AFTER INSERT ON t BEGIN
        INSERT INTO t VALUES ('x');
        DELETE FROM t WHERE x = ';';
    END;
    SELECT 1
    -- trailing comment
    """
    statements = split_statements(sql)
    assert len(statements) == 4
    assert statements[1] == "/* block; comment */\n    INSERT INTO t VALUES ('a;b'';c');"
    assert statements[2].startswith("CREATE TRIGGER") and statements[2].endswith("END;")
    assert statements[3].startswith("SELECT 1")


def test_split_ignores_a_comment_only_tail() -> None:
    assert split_statements("SELECT 1;\n-- done\n") == ["SELECT 1;"]
    assert split_statements("  \n") == []


_literal_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"))


@given(st.lists(_literal_text, max_size=8))
def test_split_round_trips_literals_with_semicolons_and_quotes(values: list[str]) -> None:
    statements = [f"INSERT INTO t VALUES ('{v.replace(chr(39), chr(39) * 2)}');" for v in values]
    assert split_statements("\n".join(statements)) == statements
