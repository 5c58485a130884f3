from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from app.store import Store, StoreError, data_dir, database_path
from app.store.paths import DATA_DIR_ENV


def test_env_override_is_created_and_holds_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "nested" / "data"
    monkeypatch.setenv(DATA_DIR_ENV, str(target))
    assert data_dir() == target
    assert target.is_dir()
    assert database_path() == target / "scriptwright.db"


def test_without_override_uses_platformdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, object]] = []

    def fake_user_data_dir(appname: str, appauthor: object = None) -> str:
        calls.append((appname, appauthor))
        return str(tmp_path / "platform")

    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", fake_user_data_dir)
    assert data_dir() == tmp_path / "platform"
    assert calls == [("Scriptwright", False)]


def test_blank_override_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, "  ")
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "platform"))
    assert data_dir() == tmp_path / "platform"


def test_open_without_path_uses_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    with Store.open() as store:
        assert store.path == tmp_path / "env" / "scriptwright.db"
    assert (tmp_path / "env" / "scriptwright.db").is_file()


def test_an_unusable_data_folder_gives_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(StoreError, match="Could not create the data folder"):
        Store.open(blocker / "scriptwright.db")
