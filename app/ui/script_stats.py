"""Word counts, spoken durations and the stats line's words: plain Python, no Qt (cheap at start-up)."""

from __future__ import annotations

from typing import NamedTuple

WORDS_PER_MINUTE = 150  # the service's figure; repeated so the window need not import the core to start


class WordCounter:
    """Counts words in text fed in arbitrary pieces (a word split across two deltas counts once)."""

    def __init__(self) -> None:
        self.count = 0
        self._in_word = False

    def reset(self, text: str = "") -> None:
        self.count = 0
        self._in_word = False
        self.feed(text)

    def feed(self, text: str) -> None:
        if not text:
            return
        words = len(text.split())
        if words and self._in_word and not text[0].isspace():
            words -= 1  # the first piece continues the word the previous delta ended in
        self.count += words
        self._in_word = not text[-1].isspace()


def spoken_duration(words: int, words_per_minute: int = WORDS_PER_MINUTE) -> str:
    """'≈ 2 min 45 s' for a word count read aloud at `words_per_minute` (rounded to 5 s)."""
    seconds = round(words * 60 / words_per_minute / 5) * 5
    if seconds < 60:
        return f"≈ {max(seconds, 0)} s"
    minutes, rest = divmod(seconds, 60)
    return f"≈ {minutes} min" if rest == 0 else f"≈ {minutes} min {rest} s"


def format_ms(ms: float | None) -> str | None:
    if ms is None:
        return None
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


class ScriptStats(NamedTuple):
    words: int
    tokens: int | None = None
    latency_ms: float | None = None
    time_to_first_token_ms: float | None = None
    streaming: bool = False

    def text(self) -> str:
        if self.words == 0 and not self.streaming:
            return ""
        parts = [
            f"{self.words:,} word{'s' if self.words != 1 else ''}",
            f"{spoken_duration(self.words)} spoken",
        ]
        if self.streaming:
            parts.append("writing…")
        else:
            if self.tokens:
                parts.append(f"{self.tokens:,} tokens")
            latency = format_ms(self.latency_ms)
            if latency:
                parts.append(f"{latency} total")
            ttft = format_ms(self.time_to_first_token_ms)
            if ttft:
                parts.append(f"first token after {ttft}")
        return "  ·  ".join(parts)
