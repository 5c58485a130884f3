"""scriptwright-cli usage / cache / generate --no-cache, and budget alerts on stderr."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from app.cli import main
from app.store import Store
from tests.emulator import Emulator


def run_cli(*argv: str) -> int:
    return main(list(argv))


def generate(topic: str, *extra: str) -> int:
    return run_cli("generate", "--topic", topic, "--provider", "groq", "--json", *extra)


def test_no_cache_makes_a_new_request(
    app_env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generate("Tides") == 0
    assert generate("Tides") == 0
    assert generate("Tides", "--no-cache") == 0
    outputs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["cached"] for o in outputs] == [False, True, False]
    assert outputs[1]["cost_usd"] == 0.0 and outputs[0]["cost_usd"] > 0
    assert len(emulator.requests_for("groq", "/chat/completions")) == 2


def test_usage_and_cache_commands(
    app_env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generate("Tides") == 0 and generate("Tides") == 0
    assert run_cli("generate", "--topic", "Owls", "--provider", "ollama", "--json") == 0
    capsys.readouterr()
    assert run_cli("usage", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["by"] == "model"
    rows = {row["provider"]: row for row in payload["rows"]}
    assert (
        rows["groq"]["requests"] == 1
        and rows["groq"]["cached"] == 1
        and rows["groq"]["cache_hit_ratio"] == 0.5
    )
    assert rows["ollama"]["cost_usd"] == 0.0
    assert rows["groq"]["prompt_tokens"] == emulator.usage_totals("groq")["prompt_tokens"]
    assert run_cli("usage", "--by", "provider") == 0
    out = capsys.readouterr().out
    assert "requests" in out and "groq" in out and "$" in out
    today = date.today().isoformat()
    assert run_cli("usage", "--by", "day", "--since", today, "--json") == 0
    [day] = json.loads(capsys.readouterr().out)["rows"]
    assert day["day"] == today and day["requests"] == 2
    assert run_cli("usage", "--since", "2001-01-01", "--until", "2001-01-31") == 0
    assert "No calls" in capsys.readouterr().out
    assert run_cli("usage", "--since", "2001-02-01", "--until", "2001-01-31") == 2
    assert run_cli("cache", "stats", "--json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["entries"], stats["hits"], stats["ttl_hours"]) == (2, 1, 24.0)
    assert run_cli("cache", "stats") == 0
    assert "1 hits" in capsys.readouterr().out
    assert run_cli("cache", "clear") == 0
    assert "Removed 2 cached responses." in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_cli("usage", "--since", "yesterday")


def test_budget_alerts_go_to_stderr(
    app_env: dict[str, str], emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(Path(app_env["SCRIPTWRIGHT_DATA_DIR"]) / "scriptwright.db") as store:
        store.set_setting(
            "usage.budgets", [{"provider": "groq", "period": "day", "unit": "requests", "cap": 2}]
        )
    assert generate("Tides") == 0
    assert capsys.readouterr().err == ""
    assert generate("Owls") == 0
    err = capsys.readouterr().err
    assert "warning: Groq's daily budget of 2 requests is reached" in err
    assert run_cli("generate", "--topic", "Volcanoes", "--provider", "groq") == 3
    err = capsys.readouterr().err
    assert "warning: Groq's daily budget of 2 requests is reached" in err  # said first, before trying
    assert "error: QUOTA_EXHAUSTED: Groq's daily budget of 2 requests is reached" in err
    assert len(emulator.requests_for("groq", "/chat/completions")) == 2
