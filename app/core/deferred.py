"""Bookkeeping a reply leaves that its caller need not wait for.

What a finished reply changes in the limiter (its tokens, the limits it reported) is read by nobody until the
next request's admission or the panel's next repaint, both on the event loop. Done before the reply is
returned, it costs the request tens of microseconds of caches the SDK's parsing has just evicted; done on the
loop's next turn, nothing waits for it. Whatever reads that state first calls `settle()`, so a read never sees
the state from before the reply, however soon it comes.
"""

from __future__ import annotations

import logging
from asyncio import _get_running_loop
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class DeferredWork:
    """Calls run on the running event loop's next turn, or sooner, in order, when a reader calls `settle()`.
    Without a running loop they run at once. For state used on the loop's thread only."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()

    def __bool__(self) -> bool:
        """Whether calls are waiting: readers test this before paying for `settle()`."""
        return bool(self._calls)

    def add(self, call: Callable[..., object], *args: Any) -> None:
        loop = _get_running_loop()
        if loop is None:
            call(*args)
            return
        if not self._calls:
            loop.call_soon(self.settle)
        self._calls.append((call, args))

    def settle(self) -> None:
        """Run what is waiting now (a call that adds more runs those too)."""
        calls = self._calls
        while calls:
            call, args = calls.popleft()
            try:
                call(*args)
            except Exception:  # bookkeeping: one that fails must not stop the others, or the reader
                log.exception("[DeferredWork] %s failed", getattr(call, "__qualname__", call))
