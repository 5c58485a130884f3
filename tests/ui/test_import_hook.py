"""Importing the window's package takes back `__import__` from shiboken's `__feature__` wrapper."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Counts how often importing a new module makes something read its source, after `setup` ran.
PROBE = """
import builtins, inspect, pathlib, sys, tempfile
{setup}
reads = []
original = inspect.getsource
inspect.getsource = lambda obj, *args: (reads.append(obj), original(obj, *args))[1]
folder = tempfile.mkdtemp()
pathlib.Path(folder, "module_imported_after_qt.py").write_text("VALUE = 1\\n")
sys.path.insert(0, folder)
import module_imported_after_qt
print(len(reads), builtins.__import__.__name__)
"""


def probe(setup: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROBE.format(setup=setup))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    reads, import_name = done.stdout.split()
    return int(reads), import_name


def test_modules_imported_after_the_window_package_are_not_read_by_shiboken() -> None:
    reads_with_qt_alone, wrapper = probe("import PySide6.QtCore")
    if reads_with_qt_alone == 0:  # a newer PySide no longer wraps imports: app/ui/__init__.py can stop
        import pytest

        pytest.skip(f"PySide's import ({wrapper}) no longer reads sources")
    reads, import_name = probe("import PySide6.QtWidgets, app.ui")
    assert reads == 0
    assert import_name != wrapper  # shiboken's __feature__ wrapper is gone; its lazy loader may stay
