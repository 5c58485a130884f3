"""Where Scriptwright keeps its data: the per-user data folder, or `$SCRIPTWRIGHT_DATA_DIR` when set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "Scriptwright"
DATA_DIR_ENV = "SCRIPTWRIGHT_DATA_DIR"
DATABASE_FILENAME = "scriptwright.db"


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data folder, created if missing. The environment override serves tests and portable installs."""
    override = (os.environ if environ is None else environ).get(DATA_DIR_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
    else:
        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path() -> Path:
    return data_dir() / DATABASE_FILENAME
