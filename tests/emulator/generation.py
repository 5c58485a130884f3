"""What a generation produces and how fast: shared by the three providers.

Tokens are whitespace-split words, each sent as ``word + " "``, so counts are deterministic:
prompt tokens = words of every message (system included), completion tokens = words generated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .scripting import Fault
from .server import Exchange

if TYPE_CHECKING:
    from .emulator import Emulator

CUT_FAULTS = ("error_in_stream", "drop_connection")


def count_words(texts: Iterable[str]) -> int:
    return sum(len(t.split()) for t in texts)


@dataclass
class Generation:
    """The words to send, why the generation ends, and a fault that may cut it short."""

    tokens: list[str]
    finish: str  # "stop" or "length"
    prompt_tokens: int
    fault: Fault | None

    @property
    def cut_by(self) -> str | None:
        """The fault that stops the answer early ("error_in_stream" or "drop_connection"), if any."""
        return self.fault.kind if self.fault is not None and self.fault.kind in CUT_FAULTS else None

    @property
    def to_send(self) -> list[str]:
        return self.tokens[: self.fault.after_tokens] if self.cut_by and self.fault else self.tokens

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def plan(
    emu: Emulator, prompt_tokens: int, max_tokens: int | None, want_json: bool, fault: Fault | None
) -> Generation:
    """Decide the answer: the configured reply (or JSON document), truncated by the token limit."""
    source = json.dumps(emu.json_reply) if want_json else emu.reply_text
    tokens = [word + " " for word in source.split()]
    fault_cap = fault.after_tokens if fault and fault.kind == "length" else None
    cap = min((n for n in (max_tokens, fault_cap) if n is not None and n >= 0), default=None)
    finish = "stop"
    if cap is not None and len(tokens) > cap:
        tokens, finish = tokens[:cap], "length"
    return Generation(tokens, finish, prompt_tokens, fault)


def emit_tokens(ex: Exchange, emu: Emulator, tokens: list[str], frame: Callable[[int, str], bytes]) -> int:
    """Write one frame per token at the emulator's pace; returns how many tokens reached the socket.

    Waits `first_token_delay` before the first and 1/`token_rate` before each later one, watching the
    socket meanwhile so a client that hangs up is noticed at once (`ex.alive` turns False).
    """
    for i, token in enumerate(tokens):
        interval = 1.0 / emu.token_rate if emu.token_rate else 0.0
        if not ex.pause(emu.first_token_delay if i == 0 else interval) or not ex.write(frame(i, token)):
            return i
    return len(tokens)
