"""After the window's warm-up (`warm_up_provider` -> each adapter's `prepare()`, on a worker thread), the
first streamed reply builds nothing on the event loop: no pydantic validator, no module of the SDK or its HTTP
stack.

Each check runs in a fresh interpreter: in this one, earlier tests have long since built all of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROGRAM = textwrap.dedent(
    """
    import asyncio, json, sys
    from types import SimpleNamespace

    import pydantic

    from app.core.providers import create_provider
    from app.core.types import ChatMessage
    from app.ui.provider_warmup import warm_up_provider
    from tests.core.providers.adapter_targets import TARGETS
    from tests.emulator import Emulator

    LAZY_PACKAGES = ("groq", "google", "ollama", "pydantic", "httpx", "httpcore", "h11", "anyio")

    def unbuilt_models():
        found, todo = set(), [pydantic.BaseModel]
        while todo:
            for subclass in todo.pop().__subclasses__():
                if subclass not in found:
                    found.add(subclass)
                    todo.append(subclass)
        return {f"{c.__module__}.{c.__qualname__}" for c in found if not c.__pydantic_complete__}

    def type_adapters():
        models = sys.modules.get("groq._models")
        return models._CachedTypeAdapter.cache_info().currsize if models else 0

    target = next(t for t in TARGETS if t.name == sys.argv[1])
    with Emulator() as emu:
        target.arm(emu)
        adapter = create_provider(target.name, target.settings(emu))
        warm_up_provider(SimpleNamespace(prepare=lambda provider=None: adapter.prepare()))
        modules, unbuilt, adapters = set(sys.modules), unbuilt_models(), type_adapters()

        async def reply():
            stream = adapter.stream([ChatMessage("user", "Tides")])
            text = [item async for item in stream if isinstance(item, str)]
            await adapter.aclose()
            return "".join(text)

        text = asyncio.run(reply())
        print(json.dumps({
            "text": text,
            "imported": sorted(m for m in set(sys.modules) - modules if m.startswith(LAZY_PACKAGES)),
            "built": sorted(unbuilt - unbuilt_models()),
            "type_adapters_built": type_adapters() - adapters,
        }))
    """
)


@pytest.mark.parametrize("provider", ["groq", "gemini", "ollama"])
def test_the_first_reply_builds_no_validator_and_imports_nothing(provider: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROGRAM, provider],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["text"]  # a real reply streamed
    assert seen["built"] == []
    assert seen["imported"] == []
    assert seen["type_adapters_built"] == 0
