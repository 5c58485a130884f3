"""Run the emulator by hand: ``python -m tests.emulator --port 8765`` (loopback only)."""

from __future__ import annotations

import argparse
import threading

from .emulator import Emulator


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--token-rate", type=float, default=None, help="streamed tokens per second")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first token")
    parser.add_argument(
        "--unlimited", action="store_true", help="lift the emulated Groq/Gemini quotas (for benchmarks)"
    )
    args = parser.parse_args()

    emu = Emulator(port=args.port)
    emu.token_rate = args.token_rate
    emu.first_token_delay = args.first_token_delay
    if args.unlimited:
        for model in emu.groq_models:
            emu.set_groq_limits(model, rpm=10**9, rpd=10**9, tpm=10**12, tpd=10**12)
        for model in emu.gemini_models:
            emu.set_gemini_limits(model, rpm=10**9, rpd=10**9, tpm=10**12)
    with emu:
        print(f"Emulator listening on {emu.url}")
        print(f"  Groq:   base_url={emu.url}  api_key={emu.groq_key}")
        print(f"  Gemini: base_url={emu.url}  api_key={emu.gemini_key}")
        print(f"  Ollama: host={emu.url}")
        print("Ctrl-C to stop.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
