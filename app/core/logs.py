"""Where the details go that the window never shows: a rotating log file in the data folder.

Records are written on a thread of their own: a request logs a few lines (the limits each response reports,
each admission), and writing one to the file on the event loop cost ~80 us, a fifth of everything else the
app does for a request. Handing it over costs a few microseconds. `flush()` on the root's handlers writes
what is pending; at exit `logging.shutdown()` does so (records logged just before their event loop ended are
written then).

No key is ever logged (adapters redact; see tests/test_cli.py, which scans the whole data folder for one).
"""

from __future__ import annotations

import logging
import threading
from asyncio import _get_running_loop as asyncio_running_loop
from collections import deque
from pathlib import Path
from typing import Any

LOG_DIRNAME = "logs"
LOG_FILENAME = "scriptwright.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDOVER_DELAY_S = 0.1  # how long records logged on an event loop wait for the writer thread


class _BackgroundHandler(logging.Handler):
    """Passes each record to `handlers` (each at its own level) on a thread of its own.

    The one handler this module puts on the root logger: configuring again replaces it. The stdlib's
    QueueListener wakes its thread for every record; waking a sleeping thread costs the waker ~60 us on a
    virtual machine, so a record logged on a thread running an event loop (the window's, the CLI's) wakes
    the writer a moment later, from that loop, once for all the records of a request. A warning or an error
    wakes it at once: the process may be about to end.
    """

    def __init__(self, *handlers: logging.Handler) -> None:
        super().__init__()
        self.handlers = handlers
        self._pending: deque[logging.LogRecord] = deque()  # append and popleft are atomic
        self._draining = threading.Lock()  # one writer at a time, in order: the thread or a flush
        self._wake = threading.Event()
        self._wake_due = False  # a wake is set or scheduled: later records ride along
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="scriptwright-log", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        self._pending.append(self._prepared(record))
        if self._closed:  # a late record at exit: written here rather than lost
            self._drain()
        elif record.levelno >= logging.WARNING:
            self._wake_due = True
            self._wake.set()  # a problem is written at once: the process may be about to end
        elif not self._wake_due:
            self._wake_due = True
            loop = asyncio_running_loop()
            if loop is None:
                self._wake.set()
            else:
                loop.call_later(HANDOVER_DELAY_S, self._wake.set)

    def _prepared(self, record: logging.LogRecord) -> logging.LogRecord:
        # The message (and traceback) as text now: the arguments may change before the thread writes them.
        # In place (the stdlib copies the record, ~5 us): another handler reads the same text from it.
        if record.exc_info or record.stack_info:
            record.msg = self.format(record)
            record.exc_info = record.exc_text = record.stack_info = None
        elif record.args:
            record.msg = record.getMessage()
        record.args = None
        return record

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            self._wake_due = False  # before draining: a record queued meanwhile schedules its own wake
            self._drain()

    def _drain(self) -> None:
        with self._draining:
            while self._pending:
                record = self._pending.popleft()
                for handler in self.handlers:
                    if record.levelno >= handler.level:
                        handler.handle(record)

    def flush(self) -> None:
        """Write what is pending now, on the calling thread."""
        self._drain()
        for handler in self.handlers:
            handler.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wake.set()
            self._thread.join()
            self._drain()
            for handler in self.handlers:
                handler.close()
        super().close()


def log_soon(logger: logging.Logger, level: int, message: str, *args: Any) -> None:
    """`logger.log(level, message, *args)` on the event loop's next turn when this thread runs one: for a
    line logged on a request's path, where making the record (~10 us, several times that on caches the
    SDK has just evicted) would otherwise delay the reply."""
    if not logger.isEnabledFor(level):
        return
    loop = asyncio_running_loop()
    if loop is None:
        logger.log(level, message, *args)
    else:
        loop.call_soon(logger.log, level, message, *args)


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
    for handler in [h for h in root.handlers if isinstance(h, _BackgroundHandler)]:
        root.removeHandler(handler)
        handler.close()
    file_level = logging.getLevelName(level.strip().upper())
    if not isinstance(file_level, int):
        file_level = logging.INFO
    from logging.handlers import RotatingFileHandler  # ~3 ms of imports, needed once the app runs

    file_handler = RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
    )
    file_handler.setLevel(file_level)
    file_handler.setFormatter(logging.Formatter(FORMAT))
    handlers: list[logging.Handler] = [file_handler]
    levels = [file_level]
    if stderr_level is not None:
        console = logging.StreamHandler()
        console.setLevel(stderr_level)
        console.setFormatter(logging.Formatter(FORMAT))
        handlers.append(console)
        levels.append(stderr_level)
    root.addHandler(_BackgroundHandler(*handlers))
    root.setLevel(min(levels))
    # FORMAT shows neither the caller's line nor the process: a record need not find them (the logging
    # HOWTO's "Optimization" section; finding the caller walks the stack, a third of a record's cost).
    logging._srcfile = None
    logging.logProcesses = logging.logMultiprocessing = False
    return path
