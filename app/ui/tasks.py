"""`start_task` and `run_blocking` for the window's modules, importing asyncio only when first used.

The window must paint before the heavy imports happen (asyncio and qasync cost ~80 ms together), so the
modules imported before the first paint reach asyncio through these two functions instead of a top-level
import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None


def worker_pool() -> ThreadPoolExecutor:
    """The window's worker threads: plain Python threads shared by every loop.

    Not qasync's default `QThreadExecutor`: it starts ten QThreads per event loop, and with PySide6 6.12 code
    run on them corrupted reference counts ("bool_dealloc" at exit, wrappers of live widgets reported
    deleted).
    """
    global _executor
    if _executor is None:
        from concurrent.futures import ThreadPoolExecutor

        _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="scriptwright-worker")
    return _executor


def start_task(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """Schedule `coro` on the running (qasync) loop from a plain Qt slot; failures are logged."""
    from app.ui.async_helpers import start_task as start

    return start(coro, name=name)


async def run_blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call (store, keychain, file) on the default worker pool and await its result."""
    import asyncio

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(worker_pool(), functools.partial(function, *args, **kwargs))
