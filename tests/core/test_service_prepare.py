"""`prepare()` builds on a worker thread what the first generation would otherwise build on the event loop."""

from __future__ import annotations

import threading

from app.core.service import ScriptRequest
from tests.support.services import ServiceFactory


def test_prepare_builds_the_chosen_provider_and_its_fallbacks_with_their_clients(
    make_service: ServiceFactory,
) -> None:
    service = make_service(SCRIPTWRIGHT_FALLBACK_CHAIN="groq,gemini")
    tracked: list[str] = []
    service.state.subscribe(lambda *args: tracked.append(threading.current_thread().name))
    worker = threading.Thread(target=service.prepare, args=("groq",), name="warm-up")
    worker.start()
    worker.join(30)
    built = {name: adapter for (name, _model), adapter in service._prepared.items()}
    assert set(built) == {"groq", "gemini"}
    assert all(adapter._client is not None for adapter in built.values())  # type: ignore[attr-defined]
    # Nothing the window listens to ran in the worker thread: wrapping waits for the event loop.
    assert "warm-up" not in tracked and service._providers == {}
    assert service._guarded("gemini").inner is built["gemini"]


async def test_a_generation_after_prepare_uses_what_was_built(
    make_service: ServiceFactory, emulator: object
) -> None:
    service = make_service()
    service.prepare("groq")
    prepared = service._prepared[("groq", service.provider_settings("groq").model)]
    outcome = await service.generate(ScriptRequest("Tides", provider="groq", use_cache=False))
    assert outcome.status == "complete"
    assert service._guarded("groq").inner is prepared and service._prepared == {}


def test_prepare_of_an_unknown_provider_says_so(make_service: ServiceFactory) -> None:
    import pytest

    from app.core.errors import LLMProviderError

    with pytest.raises(LLMProviderError, match="no-such"):
        make_service().prepare("no-such")


def test_applying_settings_on_the_event_loop_reads_no_key(tmp_path: object) -> None:
    """Save in Settings re-applies them on the event loop: the models come from the store, the keys wait for
    the next request's preparation (a keychain can be a slow D-Bus call)."""
    from pathlib import Path

    from app.core.keys import KeyStore
    from app.core.service import ScriptService
    from app.store import Store
    from tests.support.memory_keyring import MemoryKeyring

    folder = Path(str(tmp_path))
    reads: list[str] = []

    class CountingKeyring(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            reads.append(username)
            return super().get_password(service, username)

    store = Store.open(folder / "scriptwright.db")
    try:
        service = ScriptService(store, {}, key_store=KeyStore(folder, backend=CountingKeyring()))
        store.set_setting("provider.groq.model", "llama-3.1-8b-instant")
        reads.clear()
        service.apply_settings()
        assert reads == []
        assert service.current_model("groq") == "llama-3.1-8b-instant"
        assert ("groq", "llama-3.1-8b-instant") in {(v.provider, v.model) for v in service.state.snapshot()}
        assert service.provider_settings("groq").model == "llama-3.1-8b-instant"
        assert reads == ["groq"]  # the key is read when a request needs it
    finally:
        store.close()
