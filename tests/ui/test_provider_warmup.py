"""The provider's SDK is loaded on a worker thread before the service would import it on the GUI thread."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from app.ui import main_window as main_window_module
from app.ui.main_window import MainWindow
from app.ui.provider_warmup import warm_up_provider

from .window_fakes import FakeService, wait_until


@pytest.fixture
def warm_ups(monkeypatch: pytest.MonkeyPatch, service: FakeService) -> list[tuple[str | None, bool, int]]:
    """Each warm-up as (provider asked for, ran on the GUI thread, requests the service had received)."""
    calls: list[tuple[str | None, bool, int]] = []

    def record(_service: Any, provider: str | None = None) -> None:
        calls.append((provider, threading.current_thread() is threading.main_thread(), len(service.requests)))

    monkeypatch.setattr(main_window_module, "warm_up_provider", record)
    return calls


async def test_generate_loads_the_provider_off_the_gui_thread_before_writing(
    window: MainWindow, service: FakeService, warm_ups: list[tuple[str | None, bool, int]]
) -> None:
    window.topic_edit.setText("Tides")
    await wait_until(lambda: len(warm_ups) == 1)  # typing loads the current provider (next test)
    warm_ups.clear()
    window.generate(provider="gemini")
    await wait_until(lambda: not window.is_generating)
    assert warm_ups == [("gemini", False, 0)]
    assert len(service.requests) == 1


async def test_typing_a_topic_loads_the_provider_once(
    window: MainWindow, warm_ups: list[tuple[str | None, bool, int]]
) -> None:
    for text in ("T", "Ti", "", "Tides"):
        window.topic_edit.setText(text)
    await wait_until(lambda: len(warm_ups) == 1)
    assert warm_ups == [(None, False, 0)]


def test_warm_up_prepares_the_chosen_provider_through_the_service() -> None:
    prepared: list[str | None] = []
    service = SimpleNamespace(prepare=prepared.append)
    warm_up_provider(service)
    warm_up_provider(service, "anthropic")
    assert prepared == [None, "anthropic"]


def test_a_failing_warm_up_is_harmless() -> None:
    def broken(provider: str | None = None) -> None:
        raise RuntimeError("the store is closed")

    warm_up_provider(SimpleNamespace(prepare=broken))  # generating reports problems, not this


async def test_generate_waits_for_the_warm_up_typing_started_rather_than_racing_it(
    window: MainWindow, service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Still running on its worker while the reply streamed, it held the interpreter lock in long slices.
    release = threading.Event()
    finished: list[str] = []

    def slow_warm_up(_service: Any, provider: str | None = None) -> None:
        if provider is None:  # typing's warm-up (generate's own names the provider it writes with)
            release.wait(10)
            finished.append("typing")
        else:
            finished.append("generate")

    monkeypatch.setattr(main_window_module, "warm_up_provider", slow_warm_up)
    window.topic_edit.setText("Tides")
    window.generate(provider="groq")
    await wait_until(lambda: window.is_generating)
    await asyncio.sleep(0.2)
    assert service.requests == [] and finished == []  # nothing is sent while typing's warm-up runs
    release.set()
    await wait_until(lambda: not window.is_generating)
    assert finished == ["typing", "generate"]
    assert len(service.requests) == 1
