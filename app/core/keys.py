"""API keys: kept in the system keychain where there is one, else in a private file. Never in SQLite or a log.

`KeyStore` uses `keyring` (service "Scriptwright", username = the provider's name). Where no usable keychain
exists (`NoKeyringError`, or the fail/null backend, as on a headless Linux machine), or the keychain refuses a
write, the keys go to `<data dir>/api-keys.json`, created with 0600 permissions and labelled as what it is.
Environment variables are the other fallback; `app.core.config.resolve_provider_settings` merges them, given
`saved_key`.

Keychain calls may talk to a desktop service (D-Bus on Linux) and may wait on an unlock prompt: the window
calls this class from a worker thread, never from the GUI thread. A lock keeps file writes from different
threads apart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

KeySource = Literal["keychain", "file"]

SERVICE_NAME: Final = "Scriptwright"
KEY_FILE_NAME: Final = "api-keys.json"
_COMMENT_FIELD: Final = "_comment"
_COMMENT: Final = (
    "Scriptwright API keys. Keep this file private. It is used because this computer has no usable system "
    "keychain; delete a line (or the file) to forget a key."
)
_PRIVATE_MODE: Final = 0o600

# Friendly names for the keychain backends people meet; anything else is described by its own name.
_BACKEND_NAMES: Final = {
    "SecretService": "the system keychain (Secret Service)",
    "libsecret": "the system keychain (Secret Service)",
    "kwallet": "the system keychain (KWallet)",
    "macOS": "the macOS Keychain",
    "Windows": "Windows Credential Manager",
}


class KeyStore:
    """Where the app keeps each provider's API key.

    `directory` is the folder of the fallback file (default: the app's data folder); `backend` replaces the
    keyring backend the `keyring` package would pick (tests pass an in-memory one); `use_keychain=False`
    forces the file.
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        backend: KeyringBackend | None = None,
        use_keychain: bool = True,
    ) -> None:
        self._directory = Path(directory) if directory is not None else None
        self._backend = backend
        self._use_keychain = use_keychain
        self._keychain_failed = False
        self._lock = threading.RLock()

    # --- public interface ------------------------------------------------------------------------------

    def get(self, provider: str) -> tuple[str, KeySource] | None:
        """(key, source) for `provider`, or None when no key is stored."""
        _check_provider(provider)
        backend = self._keychain()
        if backend is not None:
            try:
                key = backend.get_password(SERVICE_NAME, provider)
            except Exception as exc:  # a keyring error or a broken D-Bus: fall back to the file
                self._keychain_unusable("read", exc)
            else:
                if key:
                    return key, "keychain"
        key = self._read_file().get(provider)
        return (key, "file") if key else None

    def set(self, provider: str, key: str) -> KeySource | None:
        """Store `key` for `provider` and say where it went. An empty key deletes the stored one (None)."""
        _check_provider(provider)
        key = key.strip()
        if not key:
            self.delete(provider)
            return None
        backend = self._keychain()
        if backend is not None:
            try:
                backend.set_password(SERVICE_NAME, provider, key)
            except Exception as exc:
                self._keychain_unusable("write", exc)
            else:
                self._remove_from_file(provider)  # the keychain copy is now the only one
                return "keychain"
        with self._lock:
            keys = self._read_file()
            keys[provider] = key
            self._write_file(keys)
        return "file"

    def delete(self, provider: str) -> None:
        """Forget the key of `provider` wherever it is stored. Deleting a missing key is not an error."""
        _check_provider(provider)
        backend = self._keychain()
        if backend is not None:
            try:
                if backend.get_password(SERVICE_NAME, provider) is not None:
                    backend.delete_password(SERVICE_NAME, provider)
            except Exception as exc:
                self._keychain_unusable("delete", exc)
        self._remove_from_file(provider)

    @property
    def uses_keychain(self) -> bool:
        return self._keychain() is not None

    @property
    def file_path(self) -> Path:
        """The fallback file (it may not exist)."""
        if self._directory is None:
            from app.store.paths import data_dir

            self._directory = data_dir()
        return self._directory / KEY_FILE_NAME

    @property
    def backend_description(self) -> str:
        """Where a key saved now would go, in words: "the system keychain (Secret Service)" or the file."""
        backend = self._keychain()
        if backend is None:
            return self.describe_source("file")
        return _describe_backend(backend)

    def describe_source(self, source: str) -> str:
        """A key's `source` (as returned by `get`) in words."""
        if source == "file":
            return f"a file only you can read: {self.file_path}"
        backend = self._keychain()
        return _describe_backend(backend) if backend is not None else "the system keychain"

    # --- keychain --------------------------------------------------------------------------------------

    def _keychain(self) -> KeyringBackend | None:
        """The keyring backend when it can hold a key, else None (the file is used)."""
        if not self._use_keychain or self._keychain_failed:
            return None
        if self._backend is None:
            import keyring  # imported on first use: ~120 ms that start-up need not pay

            self._backend = keyring.get_keyring()
        return self._backend if _is_usable(self._backend) else None

    def _keychain_unusable(self, action: str, exc: BaseException) -> None:
        # The exception's type only: its text may quote what was being stored.
        log.warning(
            "The system keychain failed to %s a key (%s); using %s instead",
            action,
            type(exc).__name__,
            self.file_path,
        )
        self._keychain_failed = True

    # --- file --------------------------------------------------------------------------------------------

    def _read_file(self) -> dict[str, str]:
        path = self.file_path
        with self._lock:
            try:
                info = path.stat()
            except FileNotFoundError:
                return {}
            if os.name == "posix" and stat.S_IMODE(info.st_mode) & 0o077:
                log.warning("%s could be read by other users; making it private (0600)", path)
                with contextlib.suppress(OSError):
                    os.chmod(path, _PRIVATE_MODE)
            try:
                data: Any = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("Cannot read %s (%s); treating it as empty", path, type(exc).__name__)
                return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if not k.startswith("_") and isinstance(v, str) and v}

    def _write_file(self, keys: dict[str, str]) -> None:
        path = self.file_path
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {_COMMENT_FIELD: _COMMENT, **dict(sorted(keys.items()))}
        text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        # Created private from the first byte (no window in which it is world-readable), then swapped in.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_MODE)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        with contextlib.suppress(OSError):
            os.chmod(path, _PRIVATE_MODE)

    def _remove_from_file(self, provider: str) -> None:
        with self._lock:
            keys = self._read_file()
            if provider not in keys:
                return
            del keys[provider]
            if keys:
                self._write_file(keys)
            else:
                self.file_path.unlink(missing_ok=True)


def _check_provider(provider: str) -> None:
    if not provider or provider.startswith("_"):
        raise ValueError(f"Not a provider name: {provider!r}")


def _is_usable(backend: KeyringBackend) -> bool:
    """False for the backends that cannot keep a key: fail, null, and a chainer with nothing behind it."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return bool(backend.backends)
    return True


def _describe_backend(backend: KeyringBackend) -> str:
    from keyring.backends import chainer

    if isinstance(backend, chainer.ChainerBackend) and backend.backends:
        backend = backend.backends[0]
    module = type(backend).__module__.rsplit(".", 1)[-1]
    name = str(getattr(backend, "name", "") or type(backend).__name__)
    for token, description in _BACKEND_NAMES.items():
        if token.lower() in module.lower() or token.lower() in name.lower():
            return description
    return f"the system keychain ({name})"
