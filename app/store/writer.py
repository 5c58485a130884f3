"""Writes that a caller does not wait for: applied in order on one background thread, in batches.

A generation's rows (the script, its ledger rows and daily sums, the cache entry) cost a few hundred
microseconds of SQLite each, mostly the commit. Queued here they are written while the next request is
already under way, several to one transaction, and never on the thread that streams the reply.

Guarantees:
- Order: writes run one at a time, in the order they were queued, on the writer thread.
- Read-your-writes: `Database.locked()` on any other thread first waits for everything queued so far, so a
  read never misses a write that was queued before it.
- Isolation: a batch is one transaction; if any write in it raises, the batch is rolled back and each
  write runs again alone, so only the one that fails fails (its future gets the error).
- Durability: a write's future is resolved after the COMMIT of its batch; closing the store, or the
  interpreter exiting, writes whatever is still queued first.
- Quiet while a reply streams: inside `held()`, writes are kept aside without waking the writer thread,
  until the hold ends, a reader needs them (`flush`), the store closes, or the holder lets them go
  (`release_held`: the service does after a second, so a crash mid-stream still leaves the script's row).
  Written during the stream, they competed with it for the interpreter lock and a CPU core (~0.45 ms per
  streamed request over loopback); and merely waking the writer to make it wait cost ~0.25 ms more.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BATCH = 64  # writes per transaction: bounds how long one commit holds the connection

_NOT_RUN = object()


class QueuedWrite(Future[T], Generic[T]):
    """The future of a queued write: done once its batch is committed.

    `applied()` reads the result as soon as the write has run, which is what a write queued after it needs
    (it runs later on the same thread, possibly in the same, not yet committed, batch).
    """

    def __init__(self, write: Callable[[], T]) -> None:
        super().__init__()
        self.write = write
        self._applied: Any = _NOT_RUN
        self._error: BaseException | None = None

    def reset(self) -> None:
        """Before (re)running: a batch that failed is written again one write at a time."""
        self._applied, self._error = _NOT_RUN, None

    def applied(self) -> T:
        """The write's result for a later write on the writer thread; raises the write's own error."""
        if self._error is not None:
            raise self._error
        if self._applied is _NOT_RUN:
            # Only reachable from outside the writer thread: wait for the commit like any reader.
            return self.result()
        return self._applied


class WriteHold:
    """An open `WriteBehind.held()`: `end()` it (once; again is a no-op), or use it as a context manager."""

    __slots__ = ("_ended", "_writer")

    def __init__(self, writer: WriteBehind) -> None:
        self._writer = writer
        self._ended = False

    def end(self) -> None:
        self._writer._end_hold(self)

    def __enter__(self) -> WriteHold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()


class WriteBehind:
    """The background writer of one `Database` (see the module docstring)."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[Any]]) -> None:
        self._transaction = transaction  # Database.transaction: a savepoint when nested
        self._queue: queue.SimpleQueue[QueuedWrite[Any] | None] = queue.SimpleQueue()
        self._queued = 0  # writes queued so far (only the queuing threads change it, under the condition)
        self._written = 0  # writes finished so far (only the writer thread changes it, under the condition)
        self._progress = threading.Condition()
        self._holds = 0  # open held() blocks
        # Submitted during a hold: kept here, not queued, so that the writer thread sleeps on.
        self._kept: list[QueuedWrite[Any]] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        _open_writers.add(self)

    @property
    def pending(self) -> int:
        return self._queued - self._written

    def is_writer_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, write: Callable[[], T]) -> QueuedWrite[T]:
        job: QueuedWrite[T] = QueuedWrite(write)
        with self._progress:
            if self._closed:
                raise RuntimeError("The store is closed: nothing more can be written.")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="scriptwright-writer", daemon=True)
                self._thread.start()
            self._queued += 1
            if self._holds:
                self._kept.append(job)
            else:
                self._queue.put(job)  # under the lock: kept writes are queued before any later one
        return job

    def flush(self) -> None:
        """Wait until every write submitted before this call is committed (or has failed), held or not."""
        if self.is_writer_thread():
            return  # the writer reading inside a write: it is itself what others would wait for
        with self._progress:
            target = self._queued
            self._queue_kept()
            self._progress.wait_for(lambda: self._written >= target)

    def held(self) -> WriteHold:
        """Keep the writes submitted meanwhile aside until the last hold ends, unless a reader needs them
        or `release_held()` lets them go. A context manager, or ended by `end()`."""
        with self._progress:
            self._holds += 1
        return WriteHold(self)

    def _end_hold(self, hold: WriteHold) -> None:
        with self._progress:  # a hold may be ended from two threads (the loop, and a blocking script_id)
            if hold._ended:
                return
            hold._ended = True
            self._holds -= 1
            if not self._holds:
                self._queue_kept()

    def release_held(self) -> None:
        """Queue what a hold kept so far (the hold goes on: later writes are kept again)."""
        with self._progress:
            self._queue_kept()

    def _queue_kept(self) -> None:
        # The caller holds the condition's lock.
        for job in self._kept:
            self._queue.put(job)
        self._kept.clear()

    def close(self) -> None:
        """Write what is queued, then stop the thread. Idempotent."""
        with self._progress:
            if self._closed:
                return
            self._closed = True
            self._queue_kept()
            thread = self._thread
        _open_writers.discard(self)
        if thread is not None:
            self._queue.put(None)
            thread.join()

    # --- the writer thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first, *self._take_more()]
            stop = batch[-1] is None
            jobs = [job for job in batch if job is not None]
            self._write(jobs)
            with self._progress:
                self._written += len(jobs)
                self._progress.notify_all()
            if stop:
                return

    def _take_more(self) -> Iterator[QueuedWrite[Any] | None]:
        for _ in range(MAX_BATCH - 1):
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            yield job
            if job is None:
                return

    def _write(self, jobs: list[QueuedWrite[Any]]) -> None:
        try:
            with self._transaction():
                for job in jobs:
                    job.reset()
                    job._applied = job.write()
        except Exception as error:  # a write raised, or BEGIN/COMMIT failed: nothing of the batch was kept
            if len(jobs) > 1:  # write each alone, so that only what fails fails
                for job in jobs:
                    self._write([job])
                return
            log.warning("[Store] a queued write could not be saved: %s", error)
            jobs[0]._error = error
            jobs[0].set_exception(error)
            return
        for job in jobs:
            job.set_result(job._applied)


# Writes still queued when the interpreter exits (a store that was never closed) are written first.
_open_writers: weakref.WeakSet[WriteBehind] = weakref.WeakSet()


@atexit.register
def _write_everything_queued() -> None:
    for writer in list(_open_writers):
        try:
            writer.flush()
        except Exception:  # exiting: nothing left to tell
            log.exception("[Store] could not write the queued writes at exit")
