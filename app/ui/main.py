"""`scriptwright` / `python -m app`: one QApplication, one qasync loop, the main window.

Start-up order keeps the first paint fast: Qt and the window with every widget first; the log file, the event
loop and the core (store, key store, service, built on a worker thread) after it has painted; provider SDKs
are imported only when a provider is first used.

Flags: `--version` prints the version; `--smoke-test` opens the window, prints "first paint: N ms" (every
widget painted) since the process started, with the CPU time it took, checks that the core starts, and exits
0; `--report-modules` also prints which provider SDK modules and which of DEFERRED_MODULES were loaded when
the window had painted (there should be none), and which of DEFERRED_QT_TYPES PySide had built by then (none,
for a window that has been opened before: see `MainWindow._build_ui`).
"""

from __future__ import annotations

import time

_IMPORTED_AT = time.perf_counter()  # as early as possible: the fallback "process start"

import argparse  # noqa: E402
import gc  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import TYPE_CHECKING, Any, NamedTuple  # noqa: E402

if TYPE_CHECKING:
    import asyncio

    from app.ui.main_window import MainWindow

log = logging.getLogger("app.ui")

SDK_ROOTS = frozenset({"groq", "google", "ollama"})
# Left until the window has painted: the event loop, the log file's handlers, the installed version, two
# standard modules the core uses everywhere but the window need not load first (~4 ms each), the store's
# way to its per-user folder (~7 ms; the window finds the same folder through Qt), and all of the core.
DEFERRED_MODULES = frozenset(
    {
        "asyncio",
        "qasync",
        "logging.handlers",
        "importlib.metadata",
        "dataclasses",
        "datetime",
        "platformdirs",
        "app.core",
    }
)
# A parent's perf_counter (CLOCK_MONOTONIC) stamp taken just before it started us, for benchmarks.
LAUNCH_ENV = "SCRIPTWRIGHT_LAUNCHED_AT"


def process_start() -> float:
    """The `time.perf_counter()` value at which this process started.

    A parent may pass its own monotonic stamp (LAUNCH_ENV); else Linux's /proc/self/stat start time (10 ms
    ticks) is converted; else the moment this module was imported.
    """
    stamp = os.environ.get(LAUNCH_ENV)
    if stamp:
        try:
            return float(stamp)
        except ValueError:
            pass
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        started_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        elapsed = time.clock_gettime(time.CLOCK_BOOTTIME) - started_after_boot
        if 0 <= elapsed < 3600:
            return min(time.perf_counter() - elapsed, _IMPORTED_AT)
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    return _IMPORTED_AT


def loaded_sdk_modules() -> list[str]:
    return sorted(name for name in sys.modules if name.split(".")[0] in SDK_ROOTS)


def loaded_deferred_modules() -> list[str]:
    return sorted(DEFERRED_MODULES & sys.modules.keys())


# Python types the window paints without: PySide builds each, with its enums, on first use. Qt's namespace
# (~100 enums, ~25 ms; a first start still needs it to place the docks), QFont (~2 ms), QIcon (~2.5 ms: the
# stylesheet draws the first frame's icons), QKeySequence (~1 ms: the shortcuts are given right after the
# paint), and the history's list view (with QAbstractItemView's, ~4 ms; empty and hidden until the core
# attaches).
DEFERRED_QT_TYPES = (
    ("PySide6.QtCore", "Qt"),
    ("PySide6.QtGui", "QFont"),
    ("PySide6.QtGui", "QIcon"),
    ("PySide6.QtGui", "QKeySequence"),
    ("PySide6.QtWidgets", "QListView"),
)


def qt_types_built() -> list[str]:
    """Which of DEFERRED_QT_TYPES PySide has built: a type lands in its module's dictionary only then."""
    built = []
    for module_name, type_name in DEFERRED_QT_TYPES:
        module = sys.modules.get(module_name)
        if module is not None and type_name in vars(module):
            built.append(type_name)
    return built


class PaintReport(NamedTuple):
    """The moment a widget had painted, and what the process had done by then."""

    at: float  # time.perf_counter()
    cpu_seconds: float
    qt_types_built: list[str]
    sdk_modules: list[str]
    deferred_modules: list[str]

    @classmethod
    def now(cls) -> PaintReport:
        return cls(
            time.perf_counter(),
            time.process_time(),
            qt_types_built(),
            loaded_sdk_modules(),
            loaded_deferred_modules(),
        )


class _PrintVersion(argparse.Action):
    """--version. The version is read only when asked: it comes from importlib.metadata, ~25 ms a start."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        from app import __version__

        sys.stdout.write(f"Scriptwright {__version__}\n")
        parser.exit()


# The options that print and exit: read before any window is made. The others are read once the window has
# painted: building the parser loads gettext's locale tables (~2 ms), and Qt ignores what it does not know.
EXITING_OPTIONS = frozenset({"-h", "--help", "--version"})


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and the rest (Qt's own, which it has taken already, or unknown ones)."""
    parser = argparse.ArgumentParser(
        prog="scriptwright",
        description="Write video scripts with the LLM you choose (Ollama, Gemini, Groq).",
        allow_abbrev=False,  # an abbreviated --version must not open the window and then exit
    )
    parser.add_argument("--version", action=_PrintVersion)
    parser.add_argument(
        "--smoke-test", action="store_true", help="open the window, report the first paint, and exit"
    )
    parser.add_argument("--report-modules", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_known_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if EXITING_OPTIONS.intersection(arguments):
        parse_args(arguments)  # prints, and exits
    # The collector that GuiGarbageCollector installs below takes over from the automatic one, which would
    # meanwhile only scan the modules, Qt types and widgets being made to live as long as the process.
    gc.disable()
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui import theme

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else theme.new_application([sys.argv[0], *arguments])
    app.setApplicationName("Scriptwright")
    app.setApplicationDisplayName("Scriptwright")
    app.setOrganizationName("Scriptwright")
    app.setDesktopFileName("scriptwright")
    app.setQuitOnLastWindowClosed(False)  # we quit after the async shutdown, not before it
    from app.ui.gc_guard import GuiGarbageCollector

    GuiGarbageCollector.install(app)  # Qt objects in reference cycles are freed on this thread only
    follower = theme.follow_system_theme(app, exact=False)

    # 1. The window, painted before asyncio, qasync or the core are imported, and before the event loop
    # starts (so nothing can be clicked half-built): what --smoke-test reports is what every start does.
    from app.ui.app_context import resolve_data_dir
    from app.ui.first_paint import FirstPaintWatcher
    from app.ui.main_window import MainWindow

    data_dir = resolve_data_dir()
    window = MainWindow(settings_path=data_dir / "window.ini", data_dir=data_dir)
    reports: list[PaintReport] = []
    FirstPaintWatcher(window.composer, lambda: reports.append(PaintReport.now()))
    QTimer.singleShot(10_000, lambda: reports.append(PaintReport.now()))  # never wait forever
    window.show()
    while not reports:
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    painted = reports[0]
    # The window icon once the window is on screen (the title bar or task bar takes it then): QIcon's Python
    # type, built for it, is among the deferred ones.
    app.setWindowIcon(theme.app_icon())
    args, _others = parse_args(arguments)
    if args.smoke_test or args.report_modules:
        print(f"first paint: {(painted.at - process_start()) * 1000.0:.0f} ms", flush=True)
    if args.smoke_test:
        # What the process computed to get there, whatever else the machine was doing meanwhile.
        print(f"cpu time to the first paint: {painted.cpu_seconds * 1000.0:.0f} ms", flush=True)
    if args.report_modules:
        print(f"sdk modules at the first paint: {painted.sdk_modules}", flush=True)
        print(f"deferred modules at the first paint: {painted.deferred_modules}", flush=True)
        print(f"Qt types built before the first paint: {painted.qt_types_built}", flush=True)
    # Asking the system for its colour scheme exactly builds Qt's namespace (~25 ms): after the paint, which
    # used the platform palette's guess (right unless the platform and the system disagree).
    follower.add_listener(window.refresh_theme)
    follower.recheck()

    # The log file from here on (its handlers cost ~10 ms of imports that the first paint need not wait for):
    # the core and every provider call are logged; an error in building the window still reaches stderr.
    from app.core.logs import configure_logging

    configure_logging(data_dir, level=os.environ.get("SCRIPTWRIGHT_LOG_LEVEL", "INFO"))

    # Ctrl+C in the terminal closes the window the normal way (Python sees the signal at the next timer tick).
    import signal

    signal.signal(signal.SIGINT, lambda *_: window.close())

    # 3. The event loop, then the core on a worker thread.
    import asyncio

    from app import __version__
    from app.ui.event_loop import new_event_loop

    app.setApplicationVersion(__version__)
    loop = new_event_loop(app)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(_log_loop_exception)
    try:
        with loop:
            return loop.run_until_complete(run(window, smoke_test=args.smoke_test))
    finally:
        asyncio.set_event_loop(None)


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Never a traceback dialog: the log keeps the detail.
    error = context.get("exception")
    log.error("Unhandled error in the event loop: %s", context.get("message"), exc_info=error)


async def run(window: MainWindow, *, smoke_test: bool = False) -> int:
    """Build the core off the GUI thread, attach it, and live until the window closes; then shut down."""
    import asyncio

    from app.ui.app_context import AppContext, build_context
    from app.ui.tasks import run_blocking

    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()

    def on_closed() -> None:
        if not closed.done():
            closed.set_result(None)

    window.closed.connect(on_closed)
    if not window.isVisible():  # closed while it was being painted
        closed.set_result(None)

    context: AppContext | None = None
    try:
        context = await run_blocking(build_context, data_dir=window.data_dir)
    except Exception as error:
        log.exception("Scriptwright could not start its core")
        window.show_startup_error(str(error))
    if context is not None and not closed.done():
        window.attach(context.service, key_store=context.key_store)

    if smoke_test:
        await asyncio.sleep(0.1)  # let the window load its personas and history
        window.close()
    if not closed.done():
        await closed
    await window.wait_idle()
    if context is not None:
        await context.aclose()
    if smoke_test:
        print("smoke test: ok" if context is not None else "smoke test: the core did not start", flush=True)
        return 0 if context is not None else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
