"""What goes into the PyInstaller bundle and what stays out: data that the spec, the build and the tests read.

Plain Python with no PyInstaller import, so `tests/packaging` can check the rules without building anything.
The spec (`scriptwright.spec`) applies them; `build.py` audits the finished bundle against them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

APP_NAME = "scriptwright"
GUI_EXECUTABLE = "scriptwright"
CLI_EXECUTABLE = "scriptwright-cli"

# The two entry points of pyproject's [project.gui-scripts] / [project.scripts], as "module:function".
GUI_ENTRY_POINT = "app.ui.main:main"
CLI_ENTRY_POINT = "app.cli:main"

# The Qt modules the app imports (app/ui); every other PySide6 module is excluded by name.
QT_MODULES_USED = frozenset({"QtCore", "QtGui", "QtWidgets", "QtCharts"})  # QtCharts: the usage dashboard

# The provider adapters are imported by `importlib.import_module` from the strings in app/core/catalogue.py,
# so static analysis cannot see them; nor the SDKs' own lazily imported submodules.
PROVIDER_ADAPTERS = (
    "app.core.providers.groq",
    "app.core.providers.gemini",
    "app.core.providers.ollama",
    "app.core.providers.openai_compat",
    "app.core.providers.anthropic",
)
# Packages collected whole (all submodules), because they import parts of themselves by name at run time.
COLLECT_SUBMODULES = ("app", "groq", "ollama", "google.genai", "httpx2", "httpcore2")
# Imported lazily by the app or by a dependency, named so the bundle never depends on analysis catching them.
EXTRA_HIDDEN_IMPORTS = (
    "httpx",
    "jsonschema",
    "tenacity",
    "dotenv",
    "platformdirs",
    "keyring",
    "keyring.backends.null",
    "keyring.backends.fail",
    "keyring.backends.chainer",
    "keyring.backends.SecretService",
    "qasync",
    "zoneinfo",
)
# Distributions whose metadata must travel with the code: ours for importlib.metadata.version("scriptwright"),
# the version shown by --version and the About dialog; keyring finds its backends through entry points.
COPY_METADATA = ("scriptwright", "keyring")

# Never in the bundle: the tests and their emulator, test/dev tools, other Qt bindings, unused GUI toolkits.
EXCLUDED_MODULES = (
    "tests",
    "google.genai.tests",
    "pytest",
    "_pytest",
    "pytestqt",
    "pytest_asyncio",
    "pytest_cov",
    "pytest_benchmark",
    "hypothesis",
    "coverage",
    "mypy",
    "ruff",
    "tkinter",
    "_tkinter",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "IPython",
    "pip",
    "setuptools",
    "pkg_resources",
    "distutils",
    "lib2to3",
    "pydoc_data",
    "readline",  # would pull libreadline/libtinfo for an interactive prompt the app never shows
)
# Module-name patterns that must not be collected even if a package is collected whole.
EXCLUDED_SUBMODULE_PATTERN = re.compile(r"(^|\.)(tests?|testing|conftest)(\.|$)")

# Qt plugins kept, as "<type>/<name>" under PySide6/Qt/plugins, where <name> is the file name without "lib"
# and extension (so one list serves Linux .so, macOS .dylib and Windows .dll): the platforms xcb (X11),
# wayland, offscreen (headless, CI) and minimal, plus cocoa and windows for the other recipes; svg for the
# icons; the input-method bridges; the desktop-portal theme (native file dialogs in sandboxes).
KEPT_QT_PLUGIN_TYPES = frozenset(
    {
        "xcbglintegrations",
        "wayland-decoration-client",
        "wayland-graphics-integration-client",
        "wayland-shell-integration",
    }
)
KEPT_QT_PLUGINS = frozenset(
    {
        "platforms/qxcb",
        "platforms/qwayland",
        "platforms/qoffscreen",
        "platforms/qminimal",
        "platforms/qcocoa",
        "platforms/qwindows",
        "imageformats/qsvg",
        "iconengines/qsvgicon",
        "platforminputcontexts/composeplatforminputcontextplugin",
        "platforminputcontexts/ibusplatforminputcontextplugin",
        "platformthemes/qxdgdesktopportal",
    }
)
QT_PLUGIN_DIR = "PySide6/Qt/plugins/"
QT_TRANSLATIONS_DIR = "PySide6/Qt/translations/"  # the app is English only: Qt's own translations stay out

# Qt libraries that must never be in the bundle (WebEngine, QML/Quick, multimedia, PDF, 3D, ...); Charts is
# kept for the usage dashboard.
FORBIDDEN_QT_LIBRARY = re.compile(
    r"libQt6(WebEngine|Qml|Quick|3D|Multimedia|Pdf|DataVisualization|Designer|Test|Sql|Help"
    r"|Network|PrintSupport|Lottie|Labs)"
)

# Linux: shared libraries that PyInstaller would copy from the build machine's own library folders stay out of
# the bundle; the .deb's Depends brings them from the target's packages (security updates, one copy, matching
# config files such as fontconfig's). What the wheels ship (Qt, ICU, PySide6, extension modules) and the
# Python runtime itself stay in.
SYSTEM_LIBRARY_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/")
ALWAYS_BUNDLED_LIBRARY = re.compile(r"^libpython3")
QT_LIBRARY_DIR = "PySide6/Qt/lib/"

# The targets from the issue.
MAX_DEB_BYTES = 90 * 1024 * 1024
MAX_INSTALLED_BYTES = 250 * 1024 * 1024


def excluded_qt_modules(available: Iterable[str]) -> list[str]:
    """`PySide6.<Module>` for every PySide6 module present that the app does not use."""
    return sorted(f"PySide6.{name}" for name in set(available) if name not in QT_MODULES_USED)


def is_excluded_module(name: str) -> bool:
    """True for a module that must not be collected (tests, test tools, other bindings)."""
    root = name.split(".")[0]
    if name in EXCLUDED_MODULES or root in EXCLUDED_MODULES:
        return True
    return bool(EXCLUDED_SUBMODULE_PATTERN.search(name))


def keep_qt_file(dest: str) -> bool:
    """Whether a bundle entry (its destination path, "/"-separated) under PySide6/Qt is kept.

    Plugins are kept only when listed; Qt's translations never are; anything else is not a Qt plugin or
    translation and is kept here (libraries are governed by the module excludes and `FORBIDDEN_QT_LIBRARY`).
    """
    dest = dest.replace("\\", "/")
    if dest.startswith(QT_TRANSLATIONS_DIR):
        return False
    if not dest.startswith(QT_PLUGIN_DIR):
        return True
    relative = dest[len(QT_PLUGIN_DIR) :]
    plugin_type, _, filename = relative.partition("/")
    return plugin_type in KEPT_QT_PLUGIN_TYPES or f"{plugin_type}/{plugin_name(filename)}" in KEPT_QT_PLUGINS


def plugin_name(filename: str) -> str:
    """ "libqsvg.so" / "libqsvg.dylib" / "qsvg.dll" -> "qsvg"."""
    stem = re.sub(r"\.(so(\.\d+)*|dylib|dll)$", "", filename)
    return stem[3:] if stem.startswith("lib") else stem


def is_system_library(dest: str, src: str) -> bool:
    """A shared library copied from the build machine's system folders (left out of a .deb's bundle)."""
    name = dest.replace("\\", "/").rsplit("/", 1)[-1]
    if ALWAYS_BUNDLED_LIBRARY.match(name):
        return False
    return src.replace("\\", "/").startswith(SYSTEM_LIBRARY_DIRS)


def unreferenced_qt_libraries(needed_by: dict[str, set[str]]) -> set[str]:
    """The Qt libraries (dest paths under PySide6/Qt/lib) that no other kept binary needs, transitively.

    `needed_by` maps each binary's dest path to the sonames it needs (DT_NEEDED). Everything outside the Qt
    library folder is a root (extension modules, plugins, the Python runtime); a Qt library stays when a root,
    or a Qt library that stays, needs it. Pruning plugins leaves their libraries behind; this removes them.
    """

    def soname(dest: str) -> str:
        return dest.rsplit("/", 1)[-1]

    candidates = {dest for dest in needed_by if dest.startswith(QT_LIBRARY_DIR)}
    by_name = {soname(dest): dest for dest in candidates}
    kept: set[str] = set()
    pending = [dest for dest in needed_by if dest not in candidates]
    while pending:
        for name in needed_by.get(pending.pop(), set()):
            dest = by_name.get(name)
            if dest is not None and dest not in kept:
                kept.add(dest)
                pending.append(dest)
    return candidates - kept


def entry_point(spec: str) -> tuple[str, str]:
    """("module", "function") from "module:function"."""
    module, _, function = spec.partition(":")
    if not module or not function:
        raise ValueError(f"not an entry point: {spec!r}")
    return module, function
