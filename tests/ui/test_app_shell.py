"""The app shell as a user starts it: `python -m app` / `scriptwright`, in a subprocess, offscreen."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from app.ui import app_context
from tests.support.app_process import app_env

ROOT = Path(__file__).resolve().parents[2]


def run_app(
    *args: str, data_dir: Path, extra_env: dict[str, str] | None = None, as_a_user: bool = False
) -> subprocess.CompletedProcess[str]:
    """`as_a_user`: no SCRIPTWRIGHT_DATA_DIR; the app finds its per-user folder (under `data_dir`)."""
    env = app_env(data_dir)
    if as_a_user:
        del env["SCRIPTWRIGHT_DATA_DIR"]
        env["XDG_DATA_HOME"] = str(data_dir)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_prints_and_exits_zero(tmp_path: Path) -> None:
    from app import __version__

    done = run_app("--version", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Scriptwright {__version__}"
    assert not (tmp_path / "window.ini").exists()  # read before any window was made


@pytest.mark.parametrize("option", ["-h", "--help"])
def test_help_prints_and_exits_zero_before_any_window(tmp_path: Path, option: str) -> None:
    done = run_app(option, data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: scriptwright") and "--smoke-test" in done.stdout
    assert not (tmp_path / "window.ini").exists()


def test_options_are_read_whole_and_the_rest_left_to_qt() -> None:
    from app.ui.main import parse_args

    args, others = parse_args(["--smoke-test", "-style", "fusion", "--vers"])
    # An abbreviation is not ours: `--vers` must not open the window and then print the version and exit.
    assert args.smoke_test and not args.report_modules
    assert others == ["-style", "fusion", "--vers"]


def test_smoke_test_paints_and_exits_zero(tmp_path: Path) -> None:
    done = run_app("--smoke-test", data_dir=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    match = re.search(r"^first paint: (\d+) ms$", done.stdout, re.MULTILINE)
    assert match, done.stdout
    assert 0 < int(match.group(1)) < 60_000
    cpu = re.search(r"^cpu time to the first paint: (\d+) ms$", done.stdout, re.MULTILINE)
    assert cpu and int(cpu.group(1)) > 0  # what bench_ui compares with the bare window's
    assert "smoke test: ok" in done.stdout
    assert "Traceback" not in done.stderr
    assert (tmp_path / "scriptwright.db").is_file()  # the core started over the data folder
    assert (tmp_path / "window.ini").is_file()  # and the window saved its geometry on close


def test_no_provider_sdk_nor_what_the_window_can_wait_for_is_imported_before_the_first_paint(
    tmp_path: Path,
) -> None:
    done = run_app("--smoke-test", "--report-modules", data_dir=tmp_path, as_a_user=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "Scriptwright" / "scriptwright.db").is_file()  # the per-user folder, found before
    for report in ("sdk modules", "deferred modules"):  # deferred: asyncio, logging handlers, platformdirs
        match = re.search(rf"^{report} at the first paint: (.*)$", done.stdout, re.MULTILINE)
        assert match, done.stdout
        assert match.group(1) == "[]", report


def test_a_window_opened_as_it_was_left_paints_before_the_deferred_qt_types_are_built(
    tmp_path: Path,
) -> None:
    # Building the Python type of Qt's namespace (its ~100 enums) takes ~25 ms; the docks of a window that
    # has been opened before are placed by its saved layout, so nothing before the paint needs it. The
    # script's font size comes from the stylesheet, so QFont's type (~2 ms) waits too, and the history's list
    # view (~4 ms), empty and hidden until the core attaches.
    first = run_app("--smoke-test", "--report-modules", data_dir=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Qt types built before the first paint: ['Qt']" in first.stdout  # a first start places docks
    again = run_app("--smoke-test", "--report-modules", data_dir=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Qt types built before the first paint: []" in again.stdout


def test_a_damaged_database_is_reported_in_the_window_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "scriptwright.db").write_bytes(b"this is not a database" * 100)
    done = run_app("--smoke-test", data_dir=tmp_path)
    assert done.returncode == 1  # the core could not start, and the smoke test says so
    assert "first paint:" in done.stdout
    assert "smoke test: the core did not start" in done.stdout


def test_console_entry_points() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    scripts = {**project.get("scripts", {}), **project.get("gui-scripts", {})}
    assert scripts["scriptwright"] == "app.ui.main:main"
    assert (ROOT / "app" / "__main__.py").is_file()


def test_data_dir_agrees_with_the_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from app.store import paths

    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "data"))
    assert app_context.resolve_data_dir() == paths.data_dir()
    monkeypatch.delenv(paths.DATA_DIR_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert app_context.resolve_data_dir() == paths.data_dir()
    monkeypatch.delenv("XDG_DATA_HOME")  # the per-user default
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert app_context.resolve_data_dir() == paths.data_dir()
    if sys.platform.startswith("linux"):
        assert paths.data_dir() == tmp_path / "home/.local/share/Scriptwright"
    assert (app_context._APP_NAME, app_context._DATA_DIR_ENV) == (paths.APP_NAME, paths.DATA_DIR_ENV)


def test_every_icon_file_the_stylesheets_draw_exists() -> None:
    from app.ui import theme

    for colors in (theme.LIGHT, theme.DARK):
        urls = re.findall(r'url\("([^"]+)"\)', theme.build_stylesheet(colors))
        assert len(urls) == len(theme.FIRST_FRAME_ICONS)
        for url in urls:
            assert Path(url).is_file(), url


def test_resources_are_complete() -> None:
    base = ROOT / "resources"
    for name in ("generate", "stop", "settings", "copy", "export", "delete", "history"):
        assert (base / "icons" / f"{name}.svg").is_file(), name
    assert (base / "app-icon" / "scriptwright.svg").is_file()
    for size in (16, 24, 32, 48, 64, 128, 256):
        assert (base / "app-icon" / f"scriptwright-{size}.png").is_file(), size
    # theme.tinted_svg sizes an icon by rewriting this header: one drawn otherwise would keep its own size.
    from app.ui import theme

    for svg in (base / "icons").glob("*.svg"):
        assert 'width="24" height="24" viewBox="0 0 24 24"' in svg.read_text(encoding="utf-8"), svg.name
    assert theme.tinted_svg('<svg width="24" height="24" viewBox="0 0 24 24">', "#123456", 18, scale=2) == (
        '<svg width="36" height="36" viewBox="0 0 24 24">'
    )


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_rests_while_qt_loads_and_is_left_as_it_was(
    tmp_path: Path, enabled: bool
) -> None:
    # Qt's objects live as long as the process: a pass over them while they load frees nothing. A test run
    # or a script that imports the window package keeps its automatic collection.
    code = (
        "import gc, sys\n"
        f"{'' if enabled else 'gc.disable()'}\n"
        "passes_while_qt_loaded = []\n"
        "def count(phase, info):\n"
        "    if phase == 'start' and 'shiboken6' in sys.modules:\n"
        "        passes_while_qt_loaded.append(info['generation'])\n"
        "gc.callbacks.append(count)\n"
        "import app.ui\n"
        "gc.callbacks.remove(count)\n"
        "print(gc.isenabled(), len(passes_while_qt_loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=app_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(enabled), "0"]
