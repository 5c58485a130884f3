"""What a call cost: USD per million input and output tokens, per provider and model.

A price is known only where someone can say where it came from: the defaults below name their source and the
date they were read; the user adds or corrects prices in Settings → Usage & costs (saved under `PRICES_KEY`).
Local providers (Ollama) cost nothing. A model without a price has no cost: `cost()` returns None, and every
view shows nothing rather than a wrong number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from app.core.catalogue import CATALOGUE

PRICES_KEY = "usage.prices"
PER_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class ModelPrice:
    provider: str
    model: str
    input_per_million: float  # USD per million prompt tokens
    output_per_million: float  # USD per million completion tokens
    source: str | None = None  # where the price was read ("user" for the user's own entries)
    as_of: str | None = None  # when (YYYY-MM)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / PER_MILLION

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_GEMINI_SOURCE = "https://ai.google.dev/gemini-api/docs/pricing (paid tier, prompts up to 200k tokens)"
_GROQ_SOURCE = "https://groq.com/pricing (on-demand)"

# List prices for the paid tiers. A free-tier user pays nothing for these calls: the cost shows what the same
# calls would cost on the paid tier, which is what a budget guards against.
DEFAULT_PRICES: tuple[ModelPrice, ...] = (
    ModelPrice("gemini", "gemini-2.5-flash", 0.30, 2.50, _GEMINI_SOURCE, "2026-03"),
    ModelPrice("gemini", "gemini-2.5-pro", 1.25, 10.00, _GEMINI_SOURCE, "2026-03"),
    ModelPrice("groq", "llama-3.3-70b-versatile", 0.59, 0.79, _GROQ_SOURCE, "2026-04"),
)


def is_free_provider(provider: str) -> bool:
    """Local providers cost nothing: the prompt never leaves the computer."""
    entry = CATALOGUE.get(provider)
    return entry is not None and not entry.leaves_machine


class PriceTable:
    """The prices in force: the defaults, overridden (or removed) by the user's entries."""

    def __init__(self, prices: Iterable[ModelPrice] = DEFAULT_PRICES) -> None:
        self._prices: dict[tuple[str, str], ModelPrice] = {(p.provider, p.model): p for p in prices}

    @classmethod
    def from_saved(cls, saved: Any, warnings: list[str] | None = None) -> PriceTable:
        """Defaults, then the saved entries: [{provider, model, input_per_million, output_per_million}, ...].

        An entry whose prices are null removes the default (the user says the price is unknown). Unreadable
        entries are skipped with a warning.
        """
        prices = {(p.provider, p.model): p for p in DEFAULT_PRICES}
        for item in saved if isinstance(saved, list) else []:
            parsed = _parse_entry(item)
            if isinstance(parsed, str):
                if warnings is not None:
                    warnings.append(parsed)
                continue
            key, price = parsed
            if price is None:
                prices.pop(key, None)
            else:
                prices[key] = price
        return cls(prices.values())

    def price(self, provider: str, model: str) -> ModelPrice | None:
        if is_free_provider(provider):
            return ModelPrice(provider, model, 0.0, 0.0, "local: free", None)
        return self._prices.get((provider, model))

    def cost(
        self, provider: str, model: str, prompt_tokens: int | None, completion_tokens: int | None
    ) -> float | None:
        """USD for this usage; 0 when nothing was used or the provider is local; None: price unknown."""
        prompt, completion = prompt_tokens or 0, completion_tokens or 0
        if prompt + completion == 0:
            return 0.0
        price = self.price(provider, model)
        return price.cost(prompt, completion) if price is not None else None

    def entries(self) -> list[ModelPrice]:
        return sorted(self._prices.values(), key=lambda p: (p.provider, p.model))

    def to_saved(self) -> list[dict[str, Any]]:
        """The user's table as saved: every entry, plus a null entry for each default the user removed."""
        rows = [p.as_dict() for p in self.entries()]
        for default in DEFAULT_PRICES:
            if (default.provider, default.model) not in self._prices:
                rows.append(
                    {
                        "provider": default.provider,
                        "model": default.model,
                        "input_per_million": None,
                        "output_per_million": None,
                    }
                )
        return rows


def _parse_entry(item: Any) -> tuple[tuple[str, str], ModelPrice | None] | str:
    if not isinstance(item, Mapping):
        return f"Ignoring a saved price that is not an entry: {item!r}."
    provider = str(item.get("provider") or "").strip().lower()
    model = str(item.get("model") or "").strip()
    if provider not in CATALOGUE or not model:
        return f"Ignoring a saved price for an unknown provider or model: {provider!r}/{model!r}."
    raw_in, raw_out = item.get("input_per_million"), item.get("output_per_million")
    if raw_in is None and raw_out is None:
        return (provider, model), None
    numbers = [_price_number(raw_in), _price_number(raw_out)]
    if numbers[0] is None or numbers[1] is None:
        return f"Ignoring the saved price of {provider}/{model}: prices must be numbers of 0 or more."
    source = item.get("source") or "user"
    as_of = item.get("as_of")
    return (provider, model), ModelPrice(
        provider, model, numbers[0], numbers[1], str(source), str(as_of) if as_of else None
    )


def _price_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def format_usd(amount: float | None) -> str:
    """ "$0.50", "$0.0042" for small amounts, "" when unknown (never a wrong number)."""
    if amount is None:
        return ""
    if amount == 0:
        return "$0.00"
    if abs(amount) < 0.01:
        return f"${amount:.4f}"
    return f"${amount:,.2f}"
