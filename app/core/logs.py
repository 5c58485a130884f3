"""Where the details go that the window never shows: a rotating log file in the data folder.

No key is ever logged (adapters redact; see tests/test_cli.py, which scans the whole data folder for one).
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_DIRNAME = "logs"
LOG_FILENAME = "scriptwright.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _AppHandler:
    """Marks the handlers this module installed, so configuring again replaces them instead of adding more."""


class _AppFileHandler(RotatingFileHandler, _AppHandler):
    pass


class _AppStreamHandler(logging.StreamHandler, _AppHandler):
    pass


def configure_logging(
    data_dir: Path, *, level: str = "INFO", stderr_level: int | None = logging.WARNING
) -> Path:
    """Log to `<data dir>/logs/scriptwright.log` (1 MB, 3 backups) and, from `stderr_level` up, to stderr.

    Returns the log file's path. `level` may come from the user (SCRIPTWRIGHT_LOG_LEVEL); an unknown name
    falls back to INFO rather than failing.
    """
    path = data_dir / LOG_DIRNAME / LOG_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _AppHandler)]:
        root.removeHandler(handler)
        handler.close()
    file_level = logging.getLevelName(level.strip().upper())
    if not isinstance(file_level, int):
        file_level = logging.INFO
    file_handler = _AppFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
    )
    file_handler.setLevel(file_level)
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(file_handler)
    levels = [file_level]
    if stderr_level is not None:
        console = _AppStreamHandler()
        console.setLevel(stderr_level)
        console.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(console)
        levels.append(stderr_level)
    root.setLevel(min(levels))
    return path
