"""scriptwright-cli end to end against the emulator: in-process for speed, a subprocess where it matters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.core.catalogue import CATALOGUE
from app.store import Store, StoreError
from tests.emulator import Emulator, Fault

GENERATE_PATHS = {"groq": "/chat/completions", "gemini": "Content", "ollama": "/api/chat"}


def run_cli(*argv: str) -> int:
    return main(list(argv))


def run_cli_process(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_imports_no_sdk_and_no_qt() -> None:
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['scriptwright-cli', '--help']\n"
        "try:\n    runpy.run_module('app.cli', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
        "heavy = {'groq', 'ollama', 'google', 'PySide6', 'qasync', 'httpx'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage: scriptwright-cli" in done.stdout
    assert done.stdout.strip().endswith("[]")


@pytest.mark.parametrize("provider", ["groq", "gemini", "ollama"])
def test_generate_json_for_each_provider(
    provider: str, app_env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run_cli("generate", "--topic", "How tides work", "--provider", provider, "--words", "120", "--json")
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {
        *("text", "provider", "model", "usage", "latency_ms", "finish_reason", "script_id"),
        *("waited_ms", "attempts", "fallback_from", "cached", "cost_usd"),
    }
    assert payload["attempts"] == 1 and payload["fallback_from"] is None
    assert payload["provider"] == provider
    assert payload["text"].strip()
    assert (
        payload["usage"]["total_tokens"]
        == payload["usage"]["prompt_tokens"] + payload["usage"]["completion_tokens"]
    )
    assert payload["usage"]["completion_tokens"] > 0
    seen = emulator.requests_for(provider, GENERATE_PATHS[provider])
    assert len(seen) == 1
    with Store.open(Path(app_env["SCRIPTWRIGHT_DATA_DIR"]) / "scriptwright.db") as store:
        record = store.get_script(payload["script_id"])
    assert record is not None and record.provider == provider and record.status == "complete"
    assert record.text == payload["text"]


def test_generate_streams_text_to_stdout(app_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("generate", "--topic", "Coffee", "--provider", "ollama", "--minutes", "1") == 0
    out = capsys.readouterr().out
    assert len(out.split()) > 5


def test_a_script_the_database_refuses_prints_its_text_then_fails(
    app_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise StoreError("The disk is full.")

    monkeypatch.setattr(Store, "finish_script", refuse)
    assert run_cli("generate", "--topic", "Coffee", "--provider", "ollama", "--words", "60") == 1
    captured = capsys.readouterr()
    assert len(captured.out.split()) > 5  # the script itself reached the user
    assert "error: The disk is full." in captured.err


def test_saved_preference_routes_generation_to_groq(app_env: dict[str, str], emulator: Emulator) -> None:
    set_pref = run_cli_process(app_env, "prefs", "set", "default_llm_provider", "groq")
    assert set_pref.returncode == 0, set_pref.stderr
    generated = run_cli_process(app_env, "generate", "--topic", "Volcanoes", "--json")
    assert generated.returncode == 0, generated.stderr
    payload = json.loads(generated.stdout)
    assert payload["provider"] == "groq"
    assert [r.provider for r in emulator.requests if "chat" in r.path or "Content" in r.path] == ["groq"]
    with Store.open(Path(app_env["SCRIPTWRIGHT_DATA_DIR"]) / "scriptwright.db") as store:
        assert store.get_script(payload["script_id"]).provider == "groq"  # type: ignore[union-attr]


def test_llm_provider_env_applies_until_a_preference_is_saved(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "gemini")
    assert run_cli("generate", "--topic", "Bees", "--json") == 0
    assert json.loads(capsys.readouterr().out)["provider"] == "gemini"
    assert run_cli("prefs", "set", "default_llm_provider", "ollama") == 0
    capsys.readouterr()
    assert run_cli("generate", "--topic", "Bees", "--json") == 0
    assert json.loads(capsys.readouterr().out)["provider"] == "ollama"


def test_provider_error_prints_one_line_and_exits_3(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "wrong-but-plausible-key-0123456789")
    assert run_cli("generate", "--topic", "Rain", "--provider", "groq") == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: AUTHENTICATION_FAILED: ")
    assert "wrong-but-plausible-key" not in err[0]


def test_failed_generation_keeps_partial_text_in_history(
    app_env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.queue("ollama", Fault.error_in_stream(after_tokens=3))
    assert run_cli("generate", "--topic", "Glaciers", "--provider", "ollama") == 3
    assert run_cli("history", "--json") == 0
    records = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert records[0]["status"] == "failed"
    assert len(records[0]["text"].split()) == 3
    assert records[0]["error_code"]


@pytest.mark.parametrize(
    "argv",
    [
        ("generate", "--topic", "x", "--words", "-5"),
        ("generate", "--topic", "x", "--provider", "mistral"),
        ("prefs", "set", "default_llm_provider", "mistral"),
        ("generate", "--topic", "x", "--persona", "Nobody"),
        ("frobnicate",),
    ],
)
def test_usage_errors_exit_2(
    argv: tuple[str, ...], app_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = run_cli(*argv)
    except SystemExit as exit:  # argparse's own usage errors
        code = int(exit.code or 0)
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_prefs_get_and_set(app_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("prefs", "get", "default_llm_provider") == 0
    assert capsys.readouterr().out.strip() == "ollama"
    assert run_cli("prefs", "set", "default_persona_id", "Energetic YouTuber") == 0
    capsys.readouterr()
    assert run_cli("prefs", "get", "default_persona_id") == 0
    assert capsys.readouterr().out.strip()


def test_providers_reports_each_provider(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    assert run_cli("providers", "--json") == 0
    rows = {row["provider"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(CATALOGUE)  # every provider gets a row
    assert not rows["openai"]["configured"] and not rows["anthropic"]["configured"]  # no key in app_env
    assert rows["groq"]["configured"] and rows["groq"]["reachable"] and rows["groq"]["key_accepted"]
    assert rows["ollama"]["reachable"] and rows["ollama"]["latency_ms"] is not None
    assert not rows["gemini"]["configured"]
    assert "GEMINI_API_KEY" in rows["gemini"]["message"]
    assert run_cli("providers") == 0
    assert "Groq (Cloud)" in capsys.readouterr().out


def test_models_lists_what_the_provider_lists(
    app_env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("models", "--provider", "groq") == 0
    listed = capsys.readouterr().out.split()
    assert set(emulator.groq_models) <= set(listed)


def test_history_text_and_json(app_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    run_cli("generate", "--topic", "First", "--provider", "ollama", "--json")
    run_cli("generate", "--topic", "Second", "--provider", "ollama", "--json")
    capsys.readouterr()
    assert run_cli("history", "--limit", "1", "--json") == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["topic"] for r in records] == ["Second"]
    assert run_cli("history") == 0
    out = capsys.readouterr().out
    assert out.index("Second") < out.index("First")


def test_damaged_database_is_reported_and_kept(
    app_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    database = Path(app_env["SCRIPTWRIGHT_DATA_DIR"]) / "scriptwright.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.write_bytes(b"this is not a database" * 100)
    assert run_cli("history") == 1
    assert "damaged" in capsys.readouterr().err
    assert database.read_bytes() == b"this is not a database" * 100


def test_fake_key_never_reaches_the_database_logs_or_errors(
    app_env: dict[str, str],
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_key = "FAKEKEY-recognisable-7f3a9c"
    emulator.groq_key = fake_key
    monkeypatch.setenv("GROQ_API_KEY", fake_key)
    caplog.set_level("DEBUG")
    assert run_cli("generate", "--topic", "Owls", "--provider", "groq", "--json") == 0
    emulator.queue("groq", Fault.rate_limit(window="rpd", retry_after=3600))
    assert run_cli("generate", "--topic", "Owls", "--provider", "groq", "--no-cache") == 3
    monkeypatch.setenv("GROQ_API_KEY", fake_key + "-wrong")
    assert run_cli("generate", "--topic", "Owls", "--provider", "groq", "--no-cache") == 3
    data_dir = Path(app_env["SCRIPTWRIGHT_DATA_DIR"])
    for path in data_dir.rglob("*"):
        if path.is_file() and path.name != "api-keys.json":
            assert fake_key.encode() not in path.read_bytes(), path
    assert fake_key not in caplog.text


def test_limits_shows_local_window_and_what_groq_reported(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GROQ_RATE_LIMIT_ENABLED", "true")
    monkeypatch.setenv("GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE", "5")
    assert run_cli("generate", "--topic", "Tides", "--provider", "groq", "--json") == 0
    capsys.readouterr()
    assert run_cli("limits", "--json") == 0
    rows = {row["provider"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(CATALOGUE)
    groq = rows["groq"]
    assert groq["headline"] == "Groq: 1 request used in last 60s (limit: 5 RPM)"
    assert groq["requests_used_last_minute"] == 1  # seeded from the ledger written by the previous command
    reported = {w["window"]: w for w in groq["reported"]}
    assert reported["rpd"]["source"] == "provider" and reported["rpd"]["limit"] > 0
    assert run_cli("limits") == 0
    assert "Groq: 1 request used in last 60s (limit: 5 RPM)" in capsys.readouterr().out


def test_limits_reports_an_invalid_setting_once(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GROQ_RATE_LIMIT_ENABLED", "true")
    monkeypatch.setenv("GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE", "abc")
    assert run_cli("limits") == 0
    captured = capsys.readouterr()
    assert captured.err.count("GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE='abc'") == 1
    assert "(limit: 2 RPM)" in captured.out
