"""Loads the modules of packaging/ (a folder, not a package: `packaging` is a PyPI distribution's name)."""

from __future__ import annotations

import sys
from importlib import util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load(name: str) -> ModuleType:
    """packaging/<name>.py, imported once under its own name (as build.py and the spec import it)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
