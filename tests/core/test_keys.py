"""KeyStore: the keychain when there is one, else a private file; never a key in a log."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.errors import KeyringLocked

from app.core.config import resolve_provider_settings
from app.core.keys import KEY_FILE_NAME, SERVICE_NAME, KeyStore
from tests.support.memory_keyring import MemoryKeyring

# Obviously fake values, nothing shaped like a real provider key.
KEY_A = "test-key-aaaa"
KEY_B = "test-key-bbbb"


class LockedKeyring(MemoryKeyring):
    """A keychain that is there but refuses every call (a locked Secret Service collection)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("locked")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The process-wide keyring replaced by an in-memory one (and restored)."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- keychain ---------------------------------------------------------------------------------------------


def test_keychain_round_trip_uses_service_and_provider_names(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    store = KeyStore(tmp_path)
    assert store.get("groq") is None
    assert store.set("groq", KEY_A) == "keychain"
    assert memory_keyring.passwords == {(SERVICE_NAME, "groq"): KEY_A}
    assert store.get("groq") == (KEY_A, "keychain")
    assert not (tmp_path / KEY_FILE_NAME).exists()
    store.delete("groq")
    assert store.get("groq") is None
    assert memory_keyring.passwords == {}


def test_keys_are_stripped_and_an_empty_key_deletes(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    store = KeyStore(tmp_path)
    store.set("gemini", f"  {KEY_B}\n")
    assert store.get("gemini") == (KEY_B, "keychain")
    assert store.set("gemini", "   ") is None
    assert store.get("gemini") is None


def test_deleting_a_missing_key_is_not_an_error(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    KeyStore(tmp_path).delete("groq")
    KeyStore(tmp_path, use_keychain=False).delete("groq")


def test_backend_description_names_the_keychain(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, backend=MemoryKeyring())
    assert store.uses_keychain
    assert store.backend_description.startswith("the system keychain")
    assert str(tmp_path) not in store.backend_description


def test_provider_names_are_checked(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, backend=MemoryKeyring())
    with pytest.raises(ValueError):
        store.set("", KEY_A)
    with pytest.raises(ValueError):
        store.get("_comment")


# --- the file fallback ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_no_usable_keychain_falls_back_to_a_private_file(tmp_path: Path, backend: KeyringBackend) -> None:
    store = KeyStore(tmp_path, backend=backend)
    assert not store.uses_keychain
    assert store.set("groq", KEY_A) == "file"
    path = tmp_path / KEY_FILE_NAME
    assert mode(path) == 0o600
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["_comment"].startswith("Scriptwright API keys. Keep this file private.")
    assert data["groq"] == KEY_A
    assert store.get("groq") == (KEY_A, "file")
    assert store.backend_description == f"a file only you can read: {path}"
    assert store.describe_source("file") == store.backend_description


def test_headless_default_backend_uses_the_file(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        store = KeyStore(tmp_path)
        assert store.set("gemini", KEY_B) == "file"
        assert store.get("gemini") == (KEY_B, "file")
    finally:
        keyring.set_keyring(previous)


def test_file_keeps_other_providers_and_disappears_when_empty(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, use_keychain=False)
    store.set("groq", KEY_A)
    store.set("gemini", KEY_B)
    store.delete("groq")
    assert store.get("groq") is None
    assert store.get("gemini") == (KEY_B, "file")
    store.delete("gemini")
    assert not (tmp_path / KEY_FILE_NAME).exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_file_readable_by_others_is_made_private_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / KEY_FILE_NAME
    path.write_text(json.dumps({"_comment": "x", "groq": KEY_A}), encoding="utf-8")
    os.chmod(path, 0o644)
    store = KeyStore(tmp_path, use_keychain=False)
    with caplog.at_level(logging.WARNING):
        assert store.get("groq") == (KEY_A, "file")
    assert mode(path) == 0o600
    assert KEY_A not in caplog.text


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_file_is_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        KeyStore(tmp_path, use_keychain=False).set("groq", KEY_A)
    finally:
        os.umask(old)
    assert mode(tmp_path / KEY_FILE_NAME) == 0o600


def test_a_damaged_file_reads_as_empty_and_is_rewritten(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("{not json", encoding="utf-8")
    store = KeyStore(tmp_path, use_keychain=False)
    assert store.get("groq") is None
    store.set("groq", KEY_A)
    assert store.get("groq") == (KEY_A, "file")


def test_a_failing_keychain_falls_back_to_the_file_and_logs_no_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = KeyStore(tmp_path, backend=LockedKeyring())
    with caplog.at_level(logging.DEBUG):
        assert store.set("groq", KEY_A) == "file"
        assert store.get("groq") == (KEY_A, "file")
    assert "KeyringLocked" in caplog.text
    assert KEY_A not in caplog.text
    assert store.backend_description.startswith("a file only you can read")


def test_saving_to_the_keychain_removes_an_older_file_copy(tmp_path: Path) -> None:
    KeyStore(tmp_path, use_keychain=False).set("groq", KEY_A)
    backend = MemoryKeyring()
    store = KeyStore(tmp_path, backend=backend)
    assert store.get("groq") == (KEY_A, "file")  # still found where it was
    store.set("groq", KEY_B)
    assert store.get("groq") == (KEY_B, "keychain")
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_default_directory_is_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTWRIGHT_DATA_DIR", str(tmp_path / "data"))
    store = KeyStore(use_keychain=False)
    assert store.file_path == tmp_path / "data" / KEY_FILE_NAME


# --- with the configuration -------------------------------------------------------------------------------


def test_a_saved_key_beats_the_environment_and_the_env_is_the_fallback(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, backend=MemoryKeyring())
    env = {"GROQ_API_KEY": KEY_B}
    assert resolve_provider_settings("groq", env, saved_key=store.get("groq")).key_source == "GROQ_API_KEY"
    store.set("groq", KEY_A)
    settings = resolve_provider_settings("groq", env, saved_key=store.get("groq"))
    assert settings.api_key == KEY_A
    assert settings.key_source == "keychain"
    assert KEY_A not in repr(settings)
