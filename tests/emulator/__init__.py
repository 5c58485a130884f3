"""A local emulator of the Groq, Gemini and Ollama HTTP APIs for tests against the unmodified SDKs.

    with Emulator() as emu:
        groq.AsyncGroq(api_key=emu.groq_key, base_url=emu.url, max_retries=0)
        genai.Client(api_key=emu.gemini_key, http_options=types.HttpOptions(base_url=emu.url))
        ollama.AsyncClient(host=emu.url)

Wire formats follow /work/shared/reference/provider-wire.md; see its "Emulator checklist".
"""

from __future__ import annotations

import socket

from .emulator import Emulator
from .scripting import Fault, RecordedRequest, ScriptedResponse

__all__ = ["Emulator", "Fault", "RecordedRequest", "ScriptedResponse", "closed_port"]


def closed_port() -> int:
    """A loopback port with nothing listening: how a stopped Ollama looks (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
