"""Garbage collection on the GUI thread only.

Python's cyclic collector runs in whichever thread happens to allocate past its threshold: a worker thread
opening the store can end up freeing a dialog or window that sits in a reference cycle (a lambda connected to
a signal that captures `self` is enough), and Qt objects destroyed off the GUI thread crash the process later.
`GuiGarbageCollector` turns automatic collection off and collects from a Qt timer instead, with the same
generation thresholds, so cycles are still freed within a fraction of a second, always on the GUI thread.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 250
_INSTALLED_PROPERTY = "scriptwrightGarbageCollector"
_loading = 0  # loading_long_lived() blocks under way, on any thread
_loading_lock = threading.Lock()


@contextmanager
def loading_long_lived() -> Iterator[None]:
    """Around work (on a worker thread) that may import what lives as long as the process: a provider's SDK,
    the core. Meanwhile the collector skips its passes: each would scan the tens of thousands of functions,
    types and tuples being created (5-15 ms on the GUI thread, often while the first reply streams), only to
    keep them all. If modules were imported, everything is then frozen: moved out of the collector's way for
    good (only then: freezing also keeps whatever garbage is pending). Freezing frees nothing, so it is safe
    off the GUI thread, and it is instant."""
    global _loading
    modules_before = len(sys.modules)
    with _loading_lock:
        _loading += 1
    try:
        yield
    finally:
        with _loading_lock:
            _loading -= 1
        if len(sys.modules) > modules_before:
            gc.freeze()


class GuiGarbageCollector(QObject):
    """Owned by the application object; `install(app)` is idempotent."""

    def __init__(self, parent: QObject, interval_ms: int = CHECK_INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        if _loading:
            return  # see loading_long_lived
        counts = gc.get_count()
        if counts[0] > self.threshold[0]:
            generation = 0
            if counts[1] > self.threshold[1]:
                generation = 1
                if counts[2] > self.threshold[2]:
                    generation = 2
            gc.collect(generation)
            if generation == 2:
                # What survives a full collection is long-lived (modules, the window, the SDKs): freeze it, so
                # later full collections scan only newer objects and never stall the window for long.
                gc.freeze()

    def collect(self) -> int:
        return gc.collect()

    @classmethod
    def install(cls, app: QObject, interval_ms: int = CHECK_INTERVAL_MS) -> GuiGarbageCollector:
        # Found through a property, not app.findChild(): wrapping the application's children (its style, its
        # event dispatcher) for the first time builds their enums, ~14 ms before the first paint.
        existing = app.property(_INSTALLED_PROPERTY)
        if isinstance(existing, cls):
            return existing
        collector = cls(app, interval_ms)
        app.setProperty(_INSTALLED_PROPERTY, collector)
        return collector
