"""The app's asyncio loop on Qt: `qasync.QEventLoop` with a cross-thread wake-up that makes no Qt call.

qasync's `call_soon_threadsafe` emits a queued Qt signal from the calling thread. With PySide6 6.12, emitting
ANY signal (even one without arguments) from a thread Qt did not create corrupts reference counts: "Fatal
Python error: bool_dealloc" at exit, live widgets reported deleted. asyncio calls it for every
`run_in_executor` result, every `asyncio.wrap_future` and every DNS lookup. Here the calling thread only
appends to a deque and writes one byte to a socket pair; a `QSocketNotifier` on the GUI thread drains the
deque (the classic self-pipe).

Ready callbacks (`call_soon`: every task step, every future callback) run in batches from one zero-delay Qt
timer, like asyncio's own `_run_once`, instead of qasync's one Qt timer per callback (about 26 us each against
3 us); a batch stops after BATCH_BUDGET_S so input and painting are never held up for long by a busy stream.

The default executor is a plain `ThreadPoolExecutor` rather than qasync's ten QThreads per loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import qasync
from PySide6.QtCore import QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication


class _LoopOnlyTimer(qasync._SimpleTimer):
    """qasync's callback timer, but callbacks run only while the loop runs.

    Anything that pumps Qt events while the asyncio loop is stopped (pytest-qt between a test and its
    teardown, `processEvents` in a start-up splash, qasync's own final `processEvents` in
    `run_until_complete`) would otherwise run task steps with no running loop. Such callbacks are kept and
    re-armed when the loop runs again, as asyncio's own loops do.
    """

    def __init__(self, loop: qasync.QEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self.deferred: list[Any] = []

    def timerEvent(self, event: Any) -> None:
        if self._stopped or self._loop.is_running():
            super().timerEvent(event)
            return
        timer_id = event.timerId()
        self.killTimer(timer_id)
        handle = self._SimpleTimer__callbacks.pop(timer_id, None)
        if handle is not None and not handle._cancelled:
            self.deferred.append(handle)

    def rearm(self) -> None:
        deferred, self.deferred = self.deferred, []
        for handle in deferred:
            if not handle._cancelled:
                self.add_callback(handle, 0)


BATCH_BUDGET_S = 0.008  # run ready callbacks for at most this long before letting Qt paint and read input


class QtEventLoop(qasync.QEventLoop):
    """qasync's loop whose `call_soon_threadsafe` wakes the GUI thread through a socket, not a Qt signal."""

    def __init__(
        self, app: QApplication | None = None, set_running_loop: bool = False, already_running: bool = False
    ) -> None:
        self._threadsafe_calls: collections.deque[tuple[Callable[..., Any], tuple[Any, ...], Any]] = (
            collections.deque()
        )
        self._wake_lock = threading.Lock()
        self._wake_pending = False
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._ready: collections.deque[asyncio.Handle] = collections.deque()
        super().__init__(app, set_running_loop=set_running_loop, already_running=already_running)
        self._timer = _LoopOnlyTimer(self)
        self._ready_timer = QTimer()
        self._ready_timer.setSingleShot(True)
        self._ready_timer.setInterval(0)
        self._ready_timer.timeout.connect(self._run_ready)
        self._wake_notifier = QSocketNotifier(self._wake_reader.fileno(), QSocketNotifier.Type.Read)
        self._wake_notifier.activated.connect(self._drain_threadsafe)

    def call_soon(self, callback: Callable[..., Any], *args: Any, context: Any = None) -> asyncio.Handle:
        self._check_closed()
        handle = asyncio.Handle(callback, args, self, context=context)
        self._ready.append(handle)
        if not self._ready_timer.isActive():
            self._ready_timer.start()
        return handle

    def call_later(
        self, delay: float, callback: Callable[..., Any], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        if delay <= 0:
            return self.call_soon(callback, *args, context=context)
        return super().call_later(delay, callback, *args, context=context)

    def _run_ready(self) -> None:
        if not self.is_running():
            return  # run_forever() re-arms the timer; nothing runs while the loop is stopped
        deadline = time.perf_counter() + BATCH_BUDGET_S
        for _ in range(len(self._ready)):  # what is ready now; callbacks scheduled meanwhile wait a turn
            handle = self._ready.popleft()
            if not handle._cancelled:
                handle._run()
            if time.perf_counter() > deadline:
                break
        if self._ready and not self._ready_timer.isActive():
            self._ready_timer.start()

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any, context: Any = None) -> None:
        self._threadsafe_calls.append((callback, args, context))
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        with contextlib.suppress(OSError):  # closed, or the buffer is full of wake-ups already
            self._wake_writer.send(b"\0")

    def _drain_threadsafe(self, *_args: Any) -> None:
        with self._wake_lock:
            self._wake_pending = False
            with contextlib.suppress(OSError):
                while self._wake_reader.recv(4096):
                    pass
        while self._threadsafe_calls:
            callback, args, context = self._threadsafe_calls.popleft()
            if not self.is_closed():
                self.call_soon(callback, *args, context=context)

    def run_forever(self) -> Any:
        self._timer.rearm()
        if self._ready:
            self._ready_timer.start()
        return super().run_forever()

    def close(self) -> None:
        super().close()
        self._ready_timer.stop()
        self._ready.clear()
        self._wake_notifier.setEnabled(False)
        self._wake_reader.close()
        self._wake_writer.close()


def new_event_loop(app: QApplication, *, already_running: bool = False, workers: int = 4) -> QtEventLoop:
    loop = QtEventLoop(app, already_running=already_running)
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scriptwright-worker")
    )
    return loop
