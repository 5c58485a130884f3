from __future__ import annotations

import pytest

from app.core.usage.pricing import DEFAULT_PRICES, PriceTable, format_usd, is_free_provider


def test_defaults_name_their_source_and_date() -> None:
    for price in DEFAULT_PRICES:
        assert price.source and price.source.startswith("https://")
        assert price.as_of is not None and len(price.as_of) == 7


def test_cost_per_million_tokens() -> None:
    table = PriceTable()
    assert table.cost("gemini", "gemini-2.5-flash", 1_000_000, 0) == pytest.approx(0.30)
    assert table.cost("gemini", "gemini-2.5-flash", 2000, 400) == pytest.approx(
        (2000 * 0.30 + 400 * 2.50) / 1e6
    )


def test_local_is_free_unknown_is_none_nothing_used_is_zero() -> None:
    table = PriceTable()
    assert is_free_provider("ollama") and not is_free_provider("groq")
    assert table.cost("ollama", "llama3.2", 500, 500) == 0.0
    assert table.cost("groq", "some-new-model", 10, 10) is None
    assert table.cost("groq", "some-new-model", 0, None) == 0.0


def test_saved_entries_override_add_and_remove_defaults() -> None:
    warnings: list[str] = []
    table = PriceTable.from_saved(
        [
            {
                "provider": "groq",
                "model": "llama-3.1-8b-instant",
                "input_per_million": 0.05,
                "output_per_million": 0.08,
            },
            {
                "provider": "gemini",
                "model": "gemini-2.5-pro",
                "input_per_million": None,
                "output_per_million": None,
            },
            {
                "provider": "gemini",
                "model": "gemini-2.5-flash",
                "input_per_million": 1,
                "output_per_million": 2,
            },
            {"provider": "nobody", "model": "x", "input_per_million": 1, "output_per_million": 1},
            {"provider": "groq", "model": "bad", "input_per_million": -1, "output_per_million": 1},
            "junk",
        ],
        warnings,
    )
    assert len(warnings) == 3
    assert table.cost("groq", "llama-3.1-8b-instant", 1_000_000, 1_000_000) == pytest.approx(0.13)
    assert table.price("gemini", "gemini-2.5-pro") is None
    flash = table.price("gemini", "gemini-2.5-flash")
    assert flash is not None and flash.source == "user"
    saved = table.to_saved()
    assert {
        "provider": "gemini",
        "model": "gemini-2.5-pro",
        "input_per_million": None,
        "output_per_million": None,
    } in saved
    again = PriceTable.from_saved(saved)
    assert again.entries() == table.entries()
    assert PriceTable.from_saved("not a list").entries() == PriceTable().entries()


def test_money_is_shown_only_when_known() -> None:
    assert format_usd(None) == ""
    assert format_usd(0) == "$0.00"
    assert format_usd(0.5) == "$0.50"
    assert format_usd(0.00042) == "$0.0004"
    assert format_usd(1234.5) == "$1,234.50"
