"""The history sidebar pages through a long history: the newest page first, then "Load more" at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.store import Store
from app.ui.history import HISTORY_PAGE, LOAD_MORE_ROLE, HistoryPanel, count_text

from .window_fakes import wait_until

SCRIPTS = 1_200  # six pages


def seed_many(store: Store, count: int, topic: str = "Script {i}") -> None:
    """`count` scripts, oldest first: "Script 0" is the oldest, "Script {count-1}" the newest."""
    for i in range(count):
        script_id = store.create_script(topic.format(i=i), None, "groq", "model-x", None)
        text = f"words of script {i}"
        store.finish_script(script_id, text=text, status="complete", provider="groq", model="model-x")


@pytest.fixture
async def panel(qapp: QApplication, store: Store) -> AsyncIterator[HistoryPanel]:
    widget = HistoryPanel()
    widget.resize(320, 600)
    widget.show()
    try:
        yield widget
    finally:
        widget.shutdown()
        await asyncio.gather(*widget.tasks, return_exceptions=True)
        widget.close()
        widget.deleteLater()
        await asyncio.sleep(0)


def topics(panel: HistoryPanel) -> list[str]:
    return [record.topic for record in panel.records()]


def last_row_loads_more(panel: HistoryPanel) -> bool:
    last = panel.model.rowCount() - 1
    return last >= 0 and bool(panel.model.item(last).data(LOAD_MORE_ROLE))


async def open_on(panel: HistoryPanel, store: Store, scripts: int) -> None:
    """`scripts` in the store, and the panel showing its first page with more to load."""
    seed_many(store, scripts)
    panel.set_store(store)
    await wait_until(lambda: panel.has_more)


async def load_more(panel: HistoryPanel) -> None:
    task = panel.load_more()
    assert task is not None
    await task


async def test_a_long_history_opens_on_its_newest_page_and_loads_the_rest_page_by_page(
    panel: HistoryPanel, store: Store
) -> None:
    seed_many(store, SCRIPTS)
    panel.set_store(store)
    await wait_until(lambda: panel.record_count() > 0)
    assert panel.record_count() == HISTORY_PAGE
    assert topics(panel)[0] == f"Script {SCRIPTS - 1}"
    assert last_row_loads_more(panel) and panel.has_more

    pages = 1
    while panel.has_more:
        await load_more(panel)
        pages += 1
        assert panel.record_count() == min(pages * HISTORY_PAGE, SCRIPTS)
    assert pages == SCRIPTS // HISTORY_PAGE
    # Every script once, newest first, and no "Load more" row after the oldest.
    assert topics(panel) == [f"Script {i}" for i in reversed(range(SCRIPTS))]
    assert not last_row_loads_more(panel)
    assert panel.load_more() is None


async def test_search_results_page_the_same_way(panel: HistoryPanel, store: Store) -> None:
    seed_many(store, HISTORY_PAGE + 50, topic="Octopus {i}")
    seed_many(store, 300, topic="Volcano {i}")
    panel.set_store(store)
    await wait_until(lambda: panel.record_count() > 0)
    panel.search.setText("octopus")
    await panel.refresh()
    assert panel.record_count() == HISTORY_PAGE and panel.has_more
    assert all(topic.startswith("Octopus") for topic in topics(panel))
    await load_more(panel)
    assert panel.record_count() == HISTORY_PAGE + 50
    assert not panel.has_more and not last_row_loads_more(panel)
    assert len(set(topics(panel))) == HISTORY_PAGE + 50
    # A new search starts again from its first page.
    panel.search.setText("volcano")
    await panel.refresh()
    assert panel.record_count() == HISTORY_PAGE and panel.has_more


async def test_the_load_more_row_is_reached_and_used_from_the_keyboard(
    panel: HistoryPanel, store: Store
) -> None:
    await open_on(panel, store, HISTORY_PAGE + 10)
    row = panel.model.item(panel.model.rowCount() - 1)
    assert row.data(Qt.ItemDataRole.AccessibleTextRole) == "Load more scripts"
    assert "older scripts" in row.data(Qt.ItemDataRole.AccessibleDescriptionRole)

    panel.activateWindow()
    panel.list.setFocus()
    QTest.keyClick(panel.list, Qt.Key.Key_End)
    assert panel.list.currentIndex().data(LOAD_MORE_ROLE)
    QTest.keyClick(panel.list, Qt.Key.Key_Return)
    await wait_until(lambda: panel.record_count() == HISTORY_PAGE + 10)
    # The keyboard carries on from the first script that was added, not from the top.
    current = panel.current_record()
    assert current is not None and current.topic == "Script 9"
    assert not panel.has_more


async def test_a_refresh_keeps_the_pages_loaded_and_a_new_script_is_not_listed_twice(
    panel: HistoryPanel, store: Store
) -> None:
    await open_on(panel, store, 2 * HISTORY_PAGE + 5)
    await load_more(panel)
    assert panel.record_count() == 2 * HISTORY_PAGE
    await panel.delete(panel.records()[0].id)
    assert panel.record_count() == 2 * HISTORY_PAGE and panel.has_more  # not back to one page

    # A script written after the pages were loaded moves nothing: the next page starts after the last shown.
    seed_many(store, 1, topic="Brand new")
    await load_more(panel)
    listed = topics(panel)
    assert len(listed) == len(set(listed)) == 2 * HISTORY_PAGE + 4
    assert listed[-1] == "Script 0" and not panel.has_more


async def test_load_more_after_scripts_were_written_and_deleted_lists_each_older_script_once(
    panel: HistoryPanel, store: Store
) -> None:
    await open_on(panel, store, HISTORY_PAGE + 20)
    first_page = topics(panel)
    assert first_page[-1] == "Script 20"

    # Without a refresh: a new script at the top and three shown ones gone would shift a page counted in rows
    # (repeating one, then skipping two); the next page still starts right after "Script 20".
    seed_many(store, 1, topic="Brand new")
    for record in panel.records()[5:8]:
        store.delete_script(record.id)
    await load_more(panel)
    listed = topics(panel)
    assert listed == first_page + [f"Script {i}" for i in reversed(range(20))]
    assert len(listed) == len(set(listed))
    assert not panel.has_more


async def test_the_count_says_how_many_are_shown_of_how_many(panel: HistoryPanel, store: Store) -> None:
    seed_many(store, 2 * HISTORY_PAGE + 34, topic="Octopus {i}")
    seed_many(store, 1_000, topic="Volcano {i}")
    panel.set_store(store)
    await wait_until(lambda: panel.record_count() > 0)
    assert panel.count_label.isVisible()
    assert panel.count_label.text() == "200 of 1,434 scripts"
    await load_more(panel)
    assert panel.count_label.text() == "400 of 1,434 scripts"

    panel.search.setText("octopus")
    await panel.refresh()
    assert panel.count_label.text() == "200 of 434 matches"
    await load_more(panel)
    await load_more(panel)
    assert panel.count_label.text() == "434 matches" and not panel.has_more

    panel.search.setText("giraffe")
    await panel.refresh()
    assert not panel.count_label.isVisible()  # the empty list says it in words


def test_count_text() -> None:
    assert count_text(200, 1_234, search=False) == "200 of 1,234 scripts"
    assert count_text(7, 7, search=False) == "7 scripts"
    assert count_text(1, 1, search=False) == "1 script"
    assert count_text(200, 340, search=True) == "200 of 340 matches"
    assert count_text(1, 1, search=True) == "1 match"


def test_the_history_roles_are_past_qt_user_role() -> None:
    from PySide6.QtCore import Qt

    from app.ui.history import USER_ROLE

    assert Qt.ItemDataRole.UserRole == USER_ROLE  # a number in the module, so that importing it stays cheap
