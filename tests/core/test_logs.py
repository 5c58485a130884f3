"""The log file in the data folder: written, rotated by size, configured once however often it is asked."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from app.core.logs import HANDOVER_DELAY_S, configure_logging, log_soon


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


def wait_for_lines(path: Path, count: int) -> list[str]:
    for _ in range(500):
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} lines never reached {path}")


@pytest.fixture
def file_writers(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The names of the threads that write to the log file."""
    writers: set[str] = set()
    original_emit = RotatingFileHandler.emit

    def noting_emit(handler: RotatingFileHandler, record: logging.LogRecord) -> None:
        writers.add(threading.current_thread().name)
        original_emit(handler, record)

    monkeypatch.setattr(RotatingFileHandler, "emit", noting_emit)
    return writers


def test_a_request_on_the_event_loop_logs_without_writing_and_wakes_the_writer_once(
    tmp_path: Path, restore_root_logger: None, file_writers: set[str]
) -> None:
    path = configure_logging(tmp_path, level="info", stderr_level=None)
    background = logging.getLogger().handlers[-1]
    wakes: list[float] = []
    wake = background._wake  # type: ignore[attr-defined]
    original_set = wake.set
    wake.set = lambda: (wakes.append(1), original_set())[1]

    async def a_request() -> None:
        for number in range(50):  # a burst, as one request's admission and limits lines are
            logging.getLogger("app.test").info("[RateLimiter] line %d", number)
        await asyncio.sleep(HANDOVER_DELAY_S * 3)  # the loop goes on, as the window's does

    asyncio.run(a_request())
    lines = wait_for_lines(path, 50)
    assert [line.rsplit(" ", 1)[-1] for line in lines] == [str(n) for n in range(50)]
    assert len(wakes) == 1
    assert file_writers == {"scriptwright-log"}  # the event loop never wrote


def test_a_warning_on_the_event_loop_is_written_without_waiting_for_the_loop(
    tmp_path: Path, restore_root_logger: None, file_writers: set[str]
) -> None:
    path = configure_logging(tmp_path, level="info", stderr_level=None)

    async def a_failing_request() -> list[str]:
        logging.getLogger("app.test").info("[RateLimiter] admitted")
        logging.getLogger("app.test").warning("[ScriptService] groq failed")
        return wait_for_lines(path, 2)  # the loop is blocked here: only the writer thread can write them

    lines = asyncio.run(a_failing_request())
    assert "admitted" in lines[0] and "groq failed" in lines[1]
    assert file_writers == {"scriptwright-log"}


def test_a_record_from_a_thread_without_a_loop_is_written_at_once_by_the_writer(
    tmp_path: Path, restore_root_logger: None, file_writers: set[str]
) -> None:
    path = configure_logging(tmp_path, level="info", stderr_level=None)
    logging.getLogger("app.test").info("[Store] from a plain thread")
    assert "from a plain thread" in wait_for_lines(path, 1)[0]
    assert file_writers == {"scriptwright-log"}


def test_a_traceback_logged_reaches_the_file_once(tmp_path: Path, restore_root_logger: None) -> None:
    path = configure_logging(tmp_path, level="info", stderr_level=None)
    try:
        raise ValueError("a damaged row")
    except ValueError:
        logging.getLogger("app.test").exception("[Store] could not read")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "ERROR app.test: [Store] could not read" in text
    assert text.count("ValueError: a damaged row") == 1


def test_configuring_again_stops_the_last_writer_and_a_late_record_is_still_written(
    tmp_path: Path, restore_root_logger: None
) -> None:
    configure_logging(tmp_path, level="info", stderr_level=None)
    threads = threading.active_count()
    for _ in range(3):
        path = configure_logging(tmp_path, level="info", stderr_level=None)
    assert threading.active_count() == threads  # each replaced writer thread ended
    for handler in list(logging.getLogger().handlers):
        handler.close()  # what logging.shutdown() does at exit: the queue is written, the thread ends
    assert threading.active_count() == threads - 1
    logging.getLogger("app.test").warning("[ScriptService] said while exiting")
    assert "said while exiting" in path.read_text(encoding="utf-8")


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


def test_a_line_logged_soon_comes_on_the_loops_next_turn_or_at_once_without_a_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "app.test")
    logger = logging.getLogger("app.test")
    log_soon(logger, logging.INFO, "[RateLimiter] %s without a loop", "groq")
    assert "groq without a loop" in caplog.text

    async def on_the_loop() -> list[str]:
        log_soon(logger, logging.INFO, "[RateLimiter] %s on the loop", "gemini")
        before = [r.getMessage() for r in caplog.records]
        await asyncio.sleep(0)
        return before

    before = asyncio.run(on_the_loop())
    assert "[RateLimiter] gemini on the loop" not in before
    assert "[RateLimiter] gemini on the loop" in caplog.text
    log_soon(logger, logging.DEBUG, "not at INFO")
    assert "not at INFO" not in caplog.text
