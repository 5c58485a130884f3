"""`Store`: the app's one door to its SQLite database. It owns the connection and the transaction
boundaries; the SQL lives in the per-table modules it composes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import date, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from app.store import ledger, personas, preferences, response_cache, scripts, settings, usage
from app.store.db import Database, Migration, connect, migrate, translate_error
from app.store.errors import StoreError
from app.store.paths import database_path
from app.store.records import Persona, RequestRecord, ScriptRecord, ScriptStatus
from app.store.response_cache import CachedResponse, CacheStats
from app.store.usage import GroupBy, UsageReport, UsageTotals
from app.store.writer import QueuedWrite, WriteHold

T = TypeVar("T")


class Store:
    """Thread-safe: one connection behind a lock. Open with `Store.open()`; close with `close()` or `with`."""

    def __init__(self, database: Database, *, usage_tz: tzinfo | None = None) -> None:
        self._db = database
        # The zone whose calendar days the daily usage sums use (None: this computer's zone).
        self.usage_tz = usage_tz
        self._memory: dict[tuple[str, ...], Any] = {}  # see _remembered()
        self._remembered_version: int | None = None

    @classmethod
    def open(
        cls,
        path: Path | None = None,
        *,
        migrations: Sequence[Migration] | None = None,
        usage_tz: tzinfo | None = None,
    ) -> Store:
        """Open (creating if needed) the database and bring its schema up to date.

        `path` defaults to `database_path()`; `migrations` to the ones shipped with the app.
        Raises StoreError with a sentence for the user when the file is damaged or a migration fails.
        """
        try:
            path = database_path() if path is None else path
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            folder = error.filename
            raise StoreError(f"Could not create the data folder {folder}: {error.strerror}.") from error
        conn = connect(path)
        try:
            migrate(conn, migrations)
        except sqlite3.Error as error:  # migrate() wraps its own failures; this is reading the schema
            conn.close()
            raise translate_error(error, path) from error
        except BaseException:
            conn.close()
            raise
        store = cls(Database(conn, path), usage_tz=usage_tz)
        store.rebuild_usage_if_needed()
        return store

    @property
    def path(self) -> Path:
        return self._db.path

    def close(self) -> None:
        """Write what is still queued, then close the connection."""
        self._db.close()

    def later(self, write: Callable[[], T]) -> QueuedWrite[T]:
        """Run `write` (a call of this store's methods) on the background writer and return at once.

        For writes nobody should wait for: the rows a generation leaves. They run in the order queued, several
        to a transaction; any read on another thread waits for them first. See `app.store.writer`.
        """
        return self._db.writes.submit(write)

    def writes_held(self) -> WriteHold:
        """Writes queued by `later` wait until the hold ends (`end()`, or the end of a `with` block), unless a
        read needs them or `release_held_writes()` lets them go. See `app.store.writer`."""
        return self._db.writes.held()

    def release_held_writes(self) -> None:
        """Write what a hold has kept so far, without waiting for it to end."""
        self._db.writes.release_held()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # Preferences and personas: read by every generation, changed rarely, so answered from memory while
    # nothing changed them (see `_remembered`).

    def _remembered(self, key: tuple[str, ...], read: Callable[[sqlite3.Connection], T]) -> T:
        """`read(conn)`, or what it returned last time if the database has not changed since.

        This store's own writes to preferences forget what is remembered; `PRAGMA data_version` tells when
        another process (the CLI, a second window) committed. While the connection is busy (the background
        writer is mid-batch) the check is skipped rather than waited for: the answer is a moment old at most.
        """
        version = self._db.data_version()
        if version is not None and version != self._remembered_version:
            self._memory.clear()
            self._remembered_version = version
        if key in self._memory:
            return self._memory[key]
        with self._db.locked() as conn:
            value = self._memory[key] = read(conn)
        return value

    def _forget_remembered(self) -> None:
        self._memory.clear()

    def get_default_provider(self) -> str:
        return self._remembered(("default_provider",), preferences.get_default_provider)

    def get_saved_provider(self) -> str | None:
        return self._remembered(("saved_provider",), preferences.get_saved_provider)

    def set_default_provider(self, name: str) -> None:
        with self._db.locked() as conn:
            preferences.set_default_provider(conn, name)
        self._forget_remembered()

    def get_default_persona_id(self) -> str | None:
        return self._remembered(("default_persona_id",), preferences.get_default_persona_id)

    def set_default_persona_id(self, persona_id: str | None) -> None:
        with self._db.transaction() as conn:
            preferences.set_default_persona_id(conn, persona_id)
        self._forget_remembered()

    def get_preference(self, key: str) -> str | None:
        return self._remembered(("preference", key), lambda conn: preferences.get_preference(conn, key))

    def set_preference(self, key: str, value: str | None) -> None:
        with self._db.transaction() as conn:
            preferences.set_preference(conn, key, value)
        self._forget_remembered()

    # Personas

    def list_personas(self) -> list[Persona]:
        return list(self._remembered(("personas",), personas.list_personas))

    def get_persona(self, id_or_name: str) -> Persona | None:
        return self._remembered(("persona", id_or_name), lambda conn: personas.get_persona(conn, id_or_name))

    def default_persona(self) -> Persona:
        """The user's default persona if set and still present, else the one shipped as default."""
        return self._remembered(
            ("default_persona",),
            lambda conn: personas.default_persona(conn, preferences.get_default_persona_id(conn)),
        )

    # Scripts

    def create_script(
        self, topic: str, persona: Persona | None, provider: str, model: str, target_words: int | None
    ) -> int:
        """Record a generation as it starts (status 'generating'), so even a crash leaves a trace."""
        with self._db.locked() as conn:
            return scripts.create_script(conn, topic, persona, provider, model, target_words)

    def finish_script(
        self,
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
        """Save the outcome, partial text included. provider/model may differ from the start (fallback)."""
        with self._db.locked() as conn:
            scripts.finish_script(
                conn,
                script_id,
                text=text,
                status=status,
                provider=provider,
                model=model,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=total_tokens,
                latency_ms=latency_ms,
                ttft_ms=ttft_ms,
                finish_reason=finish_reason,
                error_code=error_code,
                error_message=error_message,
            )

    def get_script(self, script_id: int) -> ScriptRecord | None:
        with self._db.locked() as conn:
            return scripts.get_script(conn, script_id)

    def list_scripts(
        self,
        limit: int = 50,
        search: str | None = None,
        *,
        before: tuple[str, int] | None = None,
    ) -> list[ScriptRecord]:
        """Newest first; `before`: the (created_at, id) of the previous page's last script: the next page."""
        with self._db.locked() as conn:
            return scripts.list_scripts(conn, limit, search, before)

    def count_scripts(self, search: str | None = None) -> int:
        with self._db.locked() as conn:
            return scripts.count_scripts(conn, search)

    def delete_script(self, script_id: int) -> ScriptRecord | None:
        """Delete and return what was deleted, for undo; None if there was no such script."""
        with self._db.transaction() as conn:
            return scripts.delete_script(conn, script_id)

    def restore_script(self, record: ScriptRecord) -> int:
        """Undo a delete, keeping id and created_at; returns the id it got back."""
        with self._db.transaction() as conn:
            return scripts.restore_script(conn, record)

    # Ledger

    def record_request(self, record: RequestRecord) -> int:
        """Write one call to the ledger and to its day's usage sums, together."""
        with self._db.transaction() as conn:
            row_id = ledger.record_request(conn, record)
            usage.add_to_daily(conn, record, self.usage_tz)
            return row_id

    def request_times(self, provider: str, model: str | None, since: float) -> list[float]:
        with self._db.locked() as conn:
            return ledger.request_times(conn, provider, model, since)

    def request_tokens_since(self, provider: str, model: str | None, since: float) -> list[tuple[float, int]]:
        with self._db.locked() as conn:
            return ledger.request_tokens_since(conn, provider, model, since)

    def list_requests(self, limit: int = 100) -> list[RequestRecord]:
        with self._db.locked() as conn:
            return ledger.list_requests(conn, limit)

    def script_cost(self, script_id: int) -> float | None:
        with self._db.locked() as conn:
            return ledger.script_cost(conn, script_id)

    def prune_requests(self, before: float) -> int:
        """Forget old ledger rows; the daily usage sums keep their history."""
        with self._db.locked() as conn:
            return ledger.prune_requests(conn, before)

    # Usage

    def usage_by_model(self, provider: str, since: float, until: float) -> dict[str, UsageTotals]:
        with self._db.locked() as conn:
            return usage.usage_by_model(conn, provider, since, until)

    def usage_report(
        self,
        first_day: date,
        last_day: date,
        group_by: Sequence[GroupBy] = ("provider", "model"),
        *,
        exact_limit: int = usage.EXACT_PERCENTILE_ROWS,
        with_latency: bool = True,
    ) -> UsageReport:
        """Usage of local days first_day..last_day: requests, errors by code, tokens, cost, latency."""
        with self._db.locked() as conn:
            return usage.usage_report(
                conn,
                first_day,
                last_day,
                group_by,
                self.usage_tz,
                exact_limit=exact_limit,
                with_latency=with_latency,
            )

    def first_usage_day(self) -> str | None:
        with self._db.locked() as conn:
            return usage.first_recorded_day(conn)

    def rebuild_usage(self) -> int:
        """Recompute the daily usage sums from the ledger; returns the ledger rows read."""
        with self._db.transaction() as conn:
            return usage.rebuild_daily(conn, self.usage_tz)

    def rebuild_usage_if_needed(self) -> bool:
        with self._db.locked() as conn:
            needed = usage.needs_rebuild(conn)
        if needed:
            self.rebuild_usage()
        return needed

    def requests_between(self, since: float, until: float) -> list[RequestRecord]:
        """Ledger rows started in [since, until), oldest first."""
        with self._db.locked() as conn:
            return [r for r in ledger.iter_requests(conn, since) if r.started_at < until]

    # Response cache

    def cache_get(self, key: str, fresh_since: float, now: float) -> CachedResponse | None:
        with self._db.transaction() as conn:
            return response_cache.get_entry(conn, key, fresh_since, now)

    def cache_put(self, entry: CachedResponse, max_bytes: int) -> int:
        """Store an entry, then evict least recently used ones past `max_bytes`; returns how many went."""
        with self._db.transaction() as conn:
            response_cache.put_entry(conn, entry)
            return response_cache.evict(conn, max_bytes)

    def cache_evict(self, max_bytes: int, expired_before: float | None = None) -> int:
        with self._db.transaction() as conn:
            return response_cache.evict(conn, max_bytes, expired_before)

    def cache_clear(self) -> int:
        with self._db.transaction() as conn:
            return response_cache.clear(conn)

    def cache_stats(self) -> CacheStats:
        with self._db.locked() as conn:
            return response_cache.stats(conn)

    # Settings

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._db.locked() as conn:
            return settings.get_setting(conn, key, default)

    def set_setting(self, key: str, value: Any) -> None:
        with self._db.locked() as conn:
            settings.set_setting(conn, key, value)

    def set_settings(self, mapping: Mapping[str, Any]) -> None:
        with self._db.transaction() as conn:
            settings.set_settings(conn, mapping)

    def delete_setting(self, key: str) -> bool:
        with self._db.locked() as conn:
            return settings.delete_setting(conn, key)

    def settings_with_prefix(self, prefix: str) -> dict[str, Any]:
        with self._db.locked() as conn:
            return settings.settings_with_prefix(conn, prefix)
