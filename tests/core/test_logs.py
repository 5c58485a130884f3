"""The log file in the data folder: written, rotated by size, configured once however often it is asked."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.logs import configure_logging


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_messages_reach_the_file_and_configuring_again_adds_no_handler(
    tmp_path: Path, restore_root_logger: None
) -> None:
    path = configure_logging(tmp_path, level="info", stderr_level=None)
    count = len(logging.getLogger().handlers)
    path = configure_logging(tmp_path, level="info", stderr_level=None)
    assert len(logging.getLogger().handlers) == count
    logging.getLogger("app.test").info("[ScriptService] hello from a test")
    logging.getLogger("app.test").debug("not at INFO")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "logs" / "scriptwright.log"
    assert "INFO app.test: [ScriptService] hello from a test" in text
    assert "not at INFO" not in text


def test_an_unknown_level_falls_back_to_info(tmp_path: Path, restore_root_logger: None) -> None:
    configure_logging(tmp_path, level="chatty", stderr_level=logging.ERROR)
    assert logging.getLogger().level == logging.INFO


def test_the_cli_writes_its_details_to_the_log_not_to_stderr(
    app_env: dict[str, str], capsys: pytest.CaptureFixture[str], restore_root_logger: None
) -> None:
    from app.cli import main

    assert main(["generate", "--topic", "Rain", "--provider", "ollama", "--model", "no-such-model"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: MODEL_NOT_FOUND")
    for handler in logging.getLogger().handlers:
        handler.flush()
    log_file = Path(app_env["SCRIPTWRIGHT_DATA_DIR"]) / "logs" / "scriptwright.log"
    assert "MODEL_NOT_FOUND" in log_file.read_text(encoding="utf-8")
