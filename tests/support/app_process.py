"""The environment for running the app as a child process in tests and benchmarks: offscreen, its own data
folder, and none of the developer's provider settings or keys."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_DEVELOPER_SETTINGS = ("GROQ_", "GEMINI_", "GOOGLE_", "OLLAMA_", "LLM_PROVIDER", "SCRIPTWRIGHT_")


def app_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DEVELOPER_SETTINGS)}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        SCRIPTWRIGHT_DATA_DIR=str(data_dir),
        PYTHONPATH=str(ROOT),
        OLLAMA_HOST="http://127.0.0.1:9",  # never a real server, even if one runs here
    )
    return env
