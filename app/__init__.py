"""Scriptwright: write video scripts with the LLM you choose."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _version() -> str:
    # importlib.metadata costs ~20 ms to import: read it when the version is asked for, not on every start.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scriptwright")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+source"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'app' has no attribute {name!r}")
