"""Load what writing with a provider needs on a worker thread, before the GUI thread needs it.

The core imports a provider's adapter and SDK on first use (start-up never pays for them), and the SDKs' HTTP
client imports more on its first request. On the GUI thread, inside the first Generate, that froze the window
for about a second (groq + pydantic + httpx ~0.6 s; httpcore, its trio/anyio synchronisation and h11 ~0.3 s;
the shared TLS context's CA bundle ~50 ms; anyio resolves its names lazily, ~40 ms into the first reply), and
the garbage collector then re-scanned the hundreds of thousands of objects just created (a 50 ms pass). The
window calls `warm_up_provider` through `run_blocking` when a topic is typed and again before it generates;
once everything is loaded it costs microseconds.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from app.ui.gc_guard import loading_long_lived

log = logging.getLogger(__name__)

# What httpx's async transport imports only when a client is built or sends its first request (httpcore's
# first lock loads anyio's asyncio backend: ~8 ms on the first reply). A module that is not installed is
# skipped: this only moves work off the GUI thread, it decides nothing.
HTTP_STACK_MODULES = ("httpcore", "h11", "anyio", "anyio._backends._asyncio")


def warm_up_provider(service: Any, provider: str | None = None) -> None:
    """Build the adapters and SDK clients `provider` (default: the current one) and its fallbacks write with
    (`ScriptService.prepare`), then the HTTP stack's lazy parts. Blocking."""
    with loading_long_lived():
        try:
            service.prepare(provider)
        except Exception:  # generating reports the same problem properly; a warm-up only saves time
            log.debug("Could not load the adapters for %s ahead of time", provider, exc_info=True)
        for module_name in HTTP_STACK_MODULES:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            for attribute in dir(module):  # resolves lazily exported names (anyio) now rather than mid-reply
                getattr(module, attribute, None)
