"""Named OpenAI-compatible instances ("LM Studio on this machine", "OpenRouter"): saved once in Settings, then
a provider like any other for the registry, limits, the panel's state, the fallback chain, the ledger, usage
and the CLI. Against the emulator's OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.cli import main
from app.core.catalogue import (
    BUILTIN,
    CATALOGUE,
    INSTANCE_ID,
    INSTANCES_KEY,
    OpenAIInstance,
    catalogue_entry,
    instance_id,
    parse_instances,
    provider_names,
    register_instances,
)
from app.core.config import resolve_provider_settings
from app.core.errors import LLMProviderError
from app.core.keys import KeyStore
from app.core.providers import create_provider
from app.core.ratelimit.clock import FakeClock
from app.core.ratelimit.settings import env_var, load_guard_settings
from app.core.service import ScriptRequest, ScriptService
from app.store import Store
from app.store.preferences import INSTANCE_PATTERN
from tests.emulator import Emulator, Fault

LM = "openai:lm-studio"
MODEL = "gpt-4o-mini"  # a model the emulator's OpenAI-compatible server offers


def lm_studio(emu: Emulator, ident: str = LM) -> OpenAIInstance:
    return OpenAIInstance(ident, "LM Studio", emu.url + "/openai-compat/v1", MODEL, needs_key=True)


def save_instance(data_dir: Path, emu: Emulator, **settings: object) -> None:
    """What Settings writes: the instance list, its own settings, and its key in the key store."""
    with Store.open(data_dir / "scriptwright.db") as store:
        store.set_settings({INSTANCES_KEY: [lm_studio(emu).as_json()], **settings})
    # The key file, not whatever keyring another test left process-wide; the app reads the file when the
    # keychain has no key (or cannot be read).
    KeyStore(data_dir, use_keychain=False).set(LM, emu.openai_key)


def open_service(data_dir: Path, env: dict[str, str], clock: FakeClock | None = None) -> ScriptService:
    store = Store.open(data_dir / "scriptwright.db")
    return ScriptService(
        store,
        {**env, "SCRIPTWRIGHT_RETRY_BUDGET_SECONDS": "120"},
        clock=clock,
        key_store=KeyStore(data_dir, use_keychain=False),
    )


async def close(service: ScriptService) -> None:
    await service.aclose()
    service.store.close()


# --- the catalogue ----------------------------------------------------------------------------------------


def test_an_instance_becomes_a_catalogue_entry_with_a_valid_env_prefix(emulator: Emulator) -> None:
    cloud = OpenAIInstance("openai:openrouter", "OpenRouter", "https://openrouter.ai/api/v1", "x/y", True)
    register_instances([lm_studio(emulator), cloud])
    assert provider_names() == (*BUILTIN, LM, "openai:openrouter")
    local = catalogue_entry(LM)
    assert (local.label, local.deployment, local.leaves_machine, local.needs_key) == (
        "LM Studio",
        "Local",
        False,
        True,
    )
    assert local.env_prefix == "OPENAI_LM_STUDIO" and local.env_prefix.isidentifier()
    assert local.key_envs == ("OPENAI_LM_STUDIO_API_KEY",)
    assert env_var(LM, "requests_per_minute") == "OPENAI_LM_STUDIO_RATE_LIMIT_REQUESTS_PER_MINUTE"
    assert local.adapter == CATALOGUE["openai"].adapter
    assert not local.rate_limit.enabled  # on this computer: no limit unless the user sets one, like Ollama
    remote = catalogue_entry("openai:openrouter")
    assert (remote.deployment, remote.leaves_machine) == ("Cloud", True)
    assert remote.rate_limit == CATALOGUE["openai"].rate_limit
    assert remote.display_name == "OpenRouter (Cloud)"

    register_instances([cloud])  # re-registering replaces: the removed one is gone
    assert LM not in CATALOGUE and "openai:openrouter" in CATALOGUE
    with pytest.raises(LLMProviderError, match="openai:openrouter"):
        catalogue_entry(LM)
    register_instances([])
    assert provider_names() == tuple(BUILTIN)


def test_instance_ids_are_slugs_the_preference_accepts() -> None:
    assert INSTANCE_ID.pattern == INSTANCE_PATTERN.pattern
    assert instance_id("LM Studio on this machine!") == "openai:lm-studio-on-this-machine"
    assert instance_id("LM Studio", {"openai:lm-studio"}) == "openai:lm-studio-2"
    assert instance_id("ÜÜÜ") == "openai:server"
    for label in ("LM Studio", "x" * 80, "Open Router (work)", "--"):
        assert INSTANCE_PATTERN.fullmatch(instance_id(label, {instance_id(label)}))


def test_damaged_saved_instances_are_skipped_with_a_warning(emulator: Emulator) -> None:
    warnings: list[str] = []
    good = lm_studio(emulator).as_json()
    saved = [good, good, {"id": "openai", "label": "x", "base_url": "http://a"}, "junk", {**good, "id": "x"}]
    assert parse_instances(saved, warnings) == [lm_studio(emulator)]
    assert len(warnings) == 4
    assert parse_instances(None) == []


def test_instance_settings_resolve_from_the_instance_then_its_own_overrides(emulator: Emulator) -> None:
    register_instances([lm_studio(emulator)])
    settings = resolve_provider_settings(LM, {})
    assert (settings.model, settings.base_url) == (MODEL, emulator.url + "/openai-compat/v1")
    settings = resolve_provider_settings(LM, {"OPENAI_LM_STUDIO_API_KEY": "k-1"}, {"model": "gpt-4.1"})
    assert (settings.model, settings.api_key, settings.key_source) == (
        "gpt-4.1",
        "k-1",
        "OPENAI_LM_STUDIO_API_KEY",
    )
    adapter = create_provider(LM, settings)
    assert adapter.name == LM


def test_the_key_store_accepts_an_instance_id(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, use_keychain=False)
    assert keys.set(LM, "sk-test-1234") == "file"
    assert keys.get(LM) == ("sk-test-1234", "file")


# --- through the service -----------------------------------------------------------------------------------


async def test_a_saved_instance_survives_a_restart_and_writes_through_its_endpoint(
    app_env: dict[str, str], emulator: Emulator, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    save_instance(data, emulator)
    register_instances([])  # as in a new process: only the saved settings know the instance
    service = open_service(data, app_env)
    try:
        assert LM in provider_names()
        outcome = await service.generate(ScriptRequest("Tides", provider=LM))
        assert outcome.status == "complete", outcome.error
        assert (outcome.provider, outcome.model) == (LM, MODEL)
        record = service.store.get_script(outcome.script_id)
        assert record is not None and (record.provider, record.model) == (LM, MODEL)
        assert [(r.provider, r.model, r.outcome) for r in service.store.list_requests()] == [
            (LM, MODEL, "ok")
        ]
        [sent] = emulator.requests_for("openai", "/chat/completions")
        assert sent.path.startswith("/openai-compat/v1")
        keys = {view.key for view in service.state.snapshot()}
        assert (LM, MODEL) in keys  # the panel's row
        assert service.store.usage_by_model(LM, 0, 4e9)[MODEL].requests == 1  # usage counts it as itself
    finally:
        await close(service)


async def test_its_own_saved_limit_applies(
    app_env: dict[str, str], emulator: Emulator, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    save_instance(
        data,
        emulator,
        **{f"ratelimit.{LM}.enabled": True, f"ratelimit.{LM}.requests_per_minute": 1},
    )
    clock = FakeClock()
    service = open_service(data, app_env, clock)
    try:
        assert service.guards.settings.limit_for(LM).requests_per_minute == 1
        assert service.guards.settings.limit_for("openai").requests_per_minute == 3  # the base is unchanged
        first = await service.generate(ScriptRequest("Tides", provider=LM))
        assert first.status == "complete", first.error
        view = service.state.view(LM, MODEL)
        assert (view.rpm_used, view.rpm_limit) == (1, 1)
        assert view.next_free_at is not None and view.next_free_at >= clock.now() + 59

        second = asyncio.ensure_future(service.generate(ScriptRequest("Owls", provider=LM)))
        for _ in range(500):
            await asyncio.sleep(0.01)
            if service.state.view(LM, MODEL).active_waits:
                break
        assert service.state.view(LM, MODEL).active_waits, "the second call should wait for its slot"
        assert len(emulator.requests_for("openai", "/chat/completions")) == 1
        clock.advance(61)
        outcome = await asyncio.wait_for(second, 30)
        assert outcome.status == "complete", outcome.error
        assert outcome.waited_ms >= 59_000
        assert len(emulator.requests_for("openai", "/chat/completions")) == 2
    finally:
        await close(service)


async def test_fallback_chain_from_groq_to_an_instance(
    app_env: dict[str, str], emulator: Emulator, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    save_instance(data, emulator)
    emulator.queue("groq", Fault.rate_limit(window="rpd", retry_after=3600))
    service = open_service(data, {**app_env, "SCRIPTWRIGHT_FALLBACK_CHAIN": f"groq,{LM}"})
    try:
        assert service.guards.settings.fallback_chain == ("groq", LM)
        assert service.settings_warnings == []
        outcome = await service.generate(ScriptRequest("Tides", provider="groq"))
        assert outcome.status == "complete", outcome.error
        assert (outcome.provider, outcome.fallback_from) == (LM, "groq")
        ledger = {(r.provider, r.outcome) for r in service.store.list_requests()}
        assert ledger == {("groq", "error"), (LM, "ok")}
    finally:
        await close(service)


async def test_removing_an_instance_takes_it_out_after_apply_settings(
    app_env: dict[str, str], emulator: Emulator, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    save_instance(data, emulator)
    service = open_service(data, app_env)
    try:
        assert any(view.provider == LM for view in service.state.snapshot())
        service.store.set_default_provider(LM)
        assert service.current_provider() == LM
        service.store.set_setting(INSTANCES_KEY, [])
        service.apply_settings()
        assert LM not in provider_names()
        assert not any(view.provider == LM for view in service.state.snapshot())
        assert service.current_provider() == "ollama"  # a removed default falls back
        assert LM not in load_guard_settings(service.env, service.store).limits
    finally:
        await close(service)


# --- the CLI ----------------------------------------------------------------------------------------------


def test_cli_generate_and_providers_know_a_saved_instance(
    app_env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    data = Path(app_env["SCRIPTWRIGHT_DATA_DIR"])
    save_instance(data, emulator)
    register_instances([])
    assert main(["generate", "--topic", "Tides", "--provider", LM, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["provider"], payload["model"]) == (LM, MODEL)
    assert len(emulator.requests_for("openai", "/chat/completions")) == 1

    assert main(["providers", "--json"]) == 0
    rows = {row["provider"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[LM]["label"] == "LM Studio (Local)"
    assert rows[LM]["configured"] and rows[LM]["reachable"] and rows[LM]["model"] == MODEL

    assert main(["limits", "--json"]) == 0
    assert any(row["provider"] == LM for row in json.loads(capsys.readouterr().out))


def test_cli_refuses_an_unknown_instance_with_a_usage_error(
    app_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "--topic", "Tides", "--provider", "openai:nowhere"]) == 2
    err = capsys.readouterr().err
    assert "openai:nowhere" in err and "groq" in err
    assert main(["prefs", "set", "default_llm_provider", "openai:nowhere"]) == 2
    assert "openai:nowhere" in capsys.readouterr().err


def test_cli_prefs_can_choose_a_saved_instance(
    app_env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    save_instance(Path(app_env["SCRIPTWRIGHT_DATA_DIR"]), emulator)
    assert main(["prefs", "set", "default_llm_provider", LM]) == 0
    assert main(["generate", "--topic", "Tides", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[-1])["provider"] == LM
