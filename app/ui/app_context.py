"""What the window runs on: the environment, the data folder, the store, the key store and the service.

`build_context()` is blocking (it imports the core, opens SQLite, may touch a keychain): the window calls it
on a worker thread after its first paint, so start-up never waits for it. `aclose()` shuts the service down,
then the store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.service import ScriptService
    from app.store import Store

log = logging.getLogger(__name__)

WINDOW_SETTINGS_FILENAME = "window.ini"
# The same names as app.store.paths, repeated so that finding the folder before the first paint imports
# neither the store package (~30 ms) nor platformdirs (~7 ms); tests/ui/test_app_shell.py checks that both
# find the same folder.
_APP_NAME = "Scriptwright"
_DATA_DIR_ENV = "SCRIPTWRIGHT_DATA_DIR"


def resolve_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data folder: SCRIPTWRIGHT_DATA_DIR (from the environment or a .env in the working folder), else the
    per-user folder. Cheap: safe to call before the window is shown (after the QApplication exists)."""
    source = os.environ if environ is None else environ
    override = source.get(_DATA_DIR_ENV, "").strip()
    if not override:
        dotenv = Path.cwd() / ".env"
        if dotenv.is_file() or (Path.cwd() / ".env.local").is_file():
            from app.core.config import load_environment

            override = load_environment((Path.cwd(),), source).get(_DATA_DIR_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
    else:
        # The folder platformdirs gives the store (`user_data_dir(_APP_NAME, appauthor=False)`), found through
        # Qt: importing platformdirs costs ~7 ms, which the first paint would wait for. Qt's generic data
        # folder is platformdirs' parent on Linux (XDG_DATA_HOME, else ~/.local/share), macOS and Windows.
        from PySide6.QtCore import QStandardPaths

        generic = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        path = Path(generic) / _APP_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path


class AppContext:
    # A plain class, not a dataclass: this module is imported before the first paint (resolve_data_dir), and
    # importing `dataclasses` there costs ~4 ms.
    def __init__(
        self,
        *,
        service: ScriptService,
        store: Store,
        key_store: Any,
        data_dir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.service = service
        self.store = store
        self.key_store = key_store
        self.data_dir = data_dir
        self.env: dict[str, str] = env if env is not None else {}
        self._closed = False

    @property
    def window_settings_path(self) -> Path:
        return self.data_dir / WINDOW_SETTINGS_FILENAME

    async def aclose(self) -> None:
        """Close the service (its HTTP clients), then the store. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.service.aclose()
        except Exception:
            log.warning("Closing the service failed", exc_info=True)
        from app.ui.tasks import run_blocking

        try:
            await run_blocking(self.store.close)
        except Exception:
            log.warning("Closing the store failed", exc_info=True)


def build_context(
    environ: Mapping[str, str] | None = None, *, data_dir: Path | None = None, use_keychain: bool = True
) -> AppContext:
    """Open everything the window needs. Blocking: call it from a worker thread."""
    from app.ui.gc_guard import loading_long_lived

    with loading_long_lived():  # the core's modules: see there
        from app.core.config import load_environment
        from app.core.keys import KeyStore
        from app.core.service import ScriptService
        from app.store import Store
        from app.store.paths import DATABASE_FILENAME

        directory = data_dir or resolve_data_dir(environ)
        env = load_environment((Path.cwd(), directory), environ)
        store = Store.open(directory / DATABASE_FILENAME)
        try:
            key_store = KeyStore(directory, use_keychain=use_keychain)
            service = ScriptService(store, env, key_store=key_store)
        except BaseException:
            store.close()
            raise
        return AppContext(service=service, store=store, key_store=key_store, data_dir=directory, env=env)
