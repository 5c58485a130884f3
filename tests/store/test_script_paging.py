"""Keyset paging through the history (`list_scripts(before=...)`) and the count beside it."""

from __future__ import annotations

import sqlite3

from app.store import ScriptRecord, Store


def make(store: Store, topic: str, text: str = "") -> int:
    script_id = store.create_script(topic, None, "ollama", "llama3.2", None)
    store.finish_script(script_id, text=text, status="complete", provider="ollama", model="llama3.2")
    return script_id


def cursor(record: ScriptRecord) -> tuple[str, int]:
    return record.created_at, record.id


def all_pages(store: Store, size: int, search: str | None = None) -> list[list[int]]:
    pages: list[list[int]] = []
    page = store.list_scripts(size, search=search)
    while page:
        pages.append([record.id for record in page])
        page = store.list_scripts(size, search=search, before=cursor(page[-1]))
    return pages


def test_pages_follow_one_another_newest_first(store: Store, raw: sqlite3.Connection) -> None:
    ids = [make(store, f"topic {i}") for i in range(7)]
    for minute, script_id in enumerate(ids):  # distinct times, oldest first
        raw.execute(
            "UPDATE scripts SET created_at = ? WHERE id = ?",
            (f"2026-01-01T10:{minute:02d}:00.000Z", script_id),
        )
    assert all_pages(store, 3) == [ids[6:3:-1], ids[3:0:-1], ids[:1]]
    oldest = store.get_script(ids[0])
    assert oldest is not None
    assert store.list_scripts(3, before=cursor(oldest)) == []


def test_scripts_written_in_the_same_instant_are_ordered_by_id_across_pages(
    store: Store, raw: sqlite3.Connection
) -> None:
    ids = [make(store, f"topic {i}") for i in range(5)]
    raw.execute("UPDATE scripts SET created_at = '2026-01-01T10:00:00.000Z'")
    newer = make(store, "newer")
    raw.execute("UPDATE scripts SET created_at = '2026-01-01T11:00:00.000Z' WHERE id = ?", (newer,))
    # The tie spans every page boundary: each page starts right after the previous page's last id.
    assert all_pages(store, 2) == [[newer, ids[4]], [ids[3], ids[2]], [ids[1], ids[0]]]


def test_search_pages_the_same_way(store: Store) -> None:
    tides = [make(store, f"Tides {i}", "The moon pulls the sea.") for i in range(5)]
    make(store, "Volcanoes", "Lava and ash.")
    marks = [make(store, f"Odd {i}", "Really?! 100%") for i in range(3)]
    assert all_pages(store, 2, search="moon") == [tides[4:2:-1], tides[2:0:-1], tides[:1]]
    # Punctuation only: the substring fallback pages too.
    assert all_pages(store, 2, search="?!") == [marks[2:0:-1], marks[:1]]


def test_a_script_added_or_deleted_between_pages_neither_repeats_nor_skips_one(store: Store) -> None:
    ids = [make(store, f"topic {i}") for i in range(6)]
    first = store.list_scripts(3)
    assert [r.id for r in first] == ids[5:2:-1]

    added = make(store, "written meanwhile")
    store.delete_script(ids[4])  # one already shown
    second = store.list_scripts(3, before=cursor(first[-1]))
    assert [r.id for r in second] == ids[2::-1]  # not shifted by either change
    assert added not in [r.id for r in second]

    store.delete_script(ids[1])  # one not shown yet is simply not listed
    assert [r.id for r in store.list_scripts(3, before=cursor(first[-1]))] == [ids[2], ids[0]]


def test_count_matches_what_the_pages_list(store: Store) -> None:
    assert store.count_scripts() == 0
    for i in range(4):
        make(store, f"Tides {i}", "The moon pulls the sea.")
    doomed = make(store, "Volcanoes", "Lava and ash. Really?!")
    assert store.count_scripts() == store.count_scripts("   ") == 5
    assert store.count_scripts("moon") == 4
    assert store.count_scripts("tides moon") == 4
    assert store.count_scripts("?!") == 1
    assert store.count_scripts("giraffe") == 0
    store.delete_script(doomed)
    assert store.count_scripts() == 4
    assert store.count_scripts("lava") == 0
