"""Builds the service from the environment: the one place the CLI and the window both start from."""

from __future__ import annotations

from pathlib import Path

from app.core.config import load_environment
from app.core.ratelimit.clock import Clock
from app.core.service import ScriptService


def open_service(
    environ: dict[str, str] | None = None, *, clock: Clock | None = None, use_keychain: bool = True
) -> ScriptService:
    """The service over the user's data dir (SCRIPTWRIGHT_DATA_DIR overrides) with .env files applied."""
    from app.core.keys import KeyStore
    from app.store import Store
    from app.store.paths import data_dir

    env = load_environment((Path.cwd(),), environ)
    directory = data_dir(env)
    env = load_environment((Path.cwd(), directory), environ)
    store = Store.open(directory / "scriptwright.db")
    key_store = KeyStore(directory, use_keychain=use_keychain)
    return ScriptService(store, env, clock=clock, key_store=key_store)
