"""Pytest fixtures for the emulator. Enable with ``pytest_plugins = ["tests.emulator.pytest_plugin"]``.

One server runs for the whole session; each test gets it freshly `reset()` (and reset again after).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .emulator import Emulator


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[Emulator]:
    """The session's running emulator, without the per-test reset."""
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emulator(emulator_session: Emulator) -> Iterator[Emulator]:
    """The shared emulator, reset to defaults for this test."""
    emulator_session.reset()
    yield emulator_session
    emulator_session.reset()
