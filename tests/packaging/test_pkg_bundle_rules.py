"""What the PyInstaller bundle keeps and leaves out (bundle_rules.py, the spec), without building."""

from __future__ import annotations

import ast
import tomllib

import pytest
from packaging_modules import PACKAGING, ROOT, load

rules = load("bundle_rules")


def _app_qt_modules() -> set[str]:
    """The PySide6 modules app/ imports (every `from PySide6.QtX import ...` / `import PySide6.QtX`)."""
    found: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "PySide6" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_every_qt_module_the_app_imports_is_kept() -> None:
    used = _app_qt_modules()
    assert used, "app/ imports no PySide6 module: the scan is broken"
    assert used <= rules.QT_MODULES_USED, f"add {used - rules.QT_MODULES_USED} to QT_MODULES_USED"


def test_unused_qt_modules_are_excluded() -> None:
    available = [
        "QtCore",
        "QtGui",
        "QtWidgets",
        "QtNetwork",
        "QtQml",
        "QtQuick",
        "QtWebEngineCore",
        "QtPdf",
        "QtSvg",
    ]
    excluded = rules.excluded_qt_modules(available)
    assert "PySide6.QtCore" not in excluded and "PySide6.QtWidgets" not in excluded
    for name in ("QtNetwork", "QtQml", "QtQuick", "QtWebEngineCore", "QtPdf", "QtSvg"):
        assert f"PySide6.{name}" in excluded


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
        ("PySide6/Qt/plugins/platforms/libqlinuxfb.so", False),
        ("PySide6/Qt/plugins/platforms/qwindows.dll", True),
        ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", True),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
        ("PySide6/Qt/plugins/imageformats/libqjpeg.so", False),
        ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", True),
        ("PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", True),
        ("PySide6/Qt/plugins/wayland-shell-integration/libxdg-shell.so", True),
        (
            "PySide6/Qt/plugins/wayland-graphics-integration-server/libqt-wayland-compositor-wayland-egl.so",
            False,
        ),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
        ("PySide6/Qt/plugins/tls/libqopensslbackend.so", False),
        ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", False),
        ("PySide6/Qt/translations/qtbase_de.qm", False),
        ("PySide6/Qt/lib/libQt6Core.so.6", True),
        ("app/store/migrations/0001_initial.sql", True),
    ],
)
def test_qt_plugins_and_translations(dest: str, kept: bool) -> None:
    assert rules.keep_qt_file(dest) is kept


@pytest.mark.parametrize(
    ("module", "excluded"),
    [
        ("tests", True),
        ("tests.emulator", True),
        ("tests.emulator.server", True),
        ("google.genai.tests.models", True),
        ("pytest", True),
        ("_pytest.fixtures", True),
        ("hypothesis", True),
        ("tkinter", True),
        ("PyQt5.QtCore", True),
        ("app.core.providers.groq", False),
        ("google.genai.models", False),
        ("unittest", False),
        ("app.store.db", False),
    ],
)
def test_test_code_is_never_bundled(module: str, excluded: bool) -> None:
    assert rules.is_excluded_module(module) is excluded


def test_provider_adapters_match_the_catalogue() -> None:
    from app.core.catalogue import CATALOGUE

    adapters = {entry.adapter.partition(":")[0] for entry in CATALOGUE.values()}
    assert adapters == set(rules.PROVIDER_ADAPTERS)


def test_entry_points_match_pyproject_and_the_launchers() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["gui-scripts"][rules.GUI_EXECUTABLE] == rules.GUI_ENTRY_POINT
    assert project["scripts"][rules.CLI_EXECUTABLE] == rules.CLI_ENTRY_POINT
    for launcher, spec in (
        ("scriptwright.py", rules.GUI_ENTRY_POINT),
        ("scriptwright_cli.py", rules.CLI_ENTRY_POINT),
    ):
        module, function = rules.entry_point(spec)
        text = (PACKAGING / "launchers" / launcher).read_text(encoding="utf-8")
        assert f"from {module} import {function}" in text


def test_the_version_metadata_and_the_migrations_travel_with_the_bundle() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] in rules.COPY_METADATA  # importlib.metadata.version("scriptwright")
    assert "migrations/*.sql" in project["tool"]["setuptools"]["package-data"]["app.store"]
    assert list((ROOT / "app" / "store" / "migrations").glob("*.sql"))
    spec = (PACKAGING / "scriptwright.spec").read_text(encoding="utf-8")
    assert "copy_metadata(distribution)" in spec and "rules.COPY_METADATA" in spec
    assert 'collect_data_files("app.store", includes=["migrations/*.sql"])' in spec


def test_the_spec_is_valid_python_and_keeps_qt_out_of_the_cli() -> None:
    spec = (PACKAGING / "scriptwright.spec").read_text(encoding="utf-8")
    compile(spec, "scriptwright.spec", "exec")
    assert 'excludes=[*excludes, "PySide6", "shiboken6", "qasync", "app.ui"]' in spec
    assert "COLLECT(" in spec and spec.count("EXE(") == 2


def test_system_libraries_stay_out_but_python_stays_in() -> None:
    assert rules.is_system_library("libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3")
    assert rules.is_system_library("libxcb-cursor.so.0", "/lib/x86_64-linux-gnu/libxcb-cursor.so.0")
    assert not rules.is_system_library(
        "libpython3.11.so.1.0", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"
    )
    assert not rules.is_system_library(
        "PySide6/Qt/lib/libQt6Core.so.6", "/venv/lib/python3.11/site-packages/PySide6/Qt/lib/libQt6Core.so.6"
    )


def test_qt_libraries_left_behind_by_pruned_plugins_go() -> None:
    lib = rules.QT_LIBRARY_DIR
    needed_by = {
        "PySide6/QtWidgets.abi3.so": {"libQt6Widgets.so.6", "libQt6Gui.so.6", "libQt6Core.so.6"},
        f"{lib}libQt6Widgets.so.6": {"libQt6Gui.so.6", "libQt6Core.so.6"},
        f"{lib}libQt6Gui.so.6": {"libQt6Core.so.6", "libQt6DBus.so.6"},
        f"{lib}libQt6DBus.so.6": {"libQt6Core.so.6"},
        f"{lib}libQt6Core.so.6": {"libicuuc.so.73"},
        f"{lib}libicuuc.so.73": set(),
        f"{lib}libQt6EglFSDeviceIntegration.so.6": {"libQt6Gui.so.6"},  # only the pruned eglfs plugin used it
        f"{lib}libQt6Network.so.6": {"libQt6Core.so.6"},
        "PySide6/Qt/plugins/platforms/libqxcb.so": {"libQt6XcbQpa.so.6"},
        f"{lib}libQt6XcbQpa.so.6": {"libQt6Gui.so.6"},
    }
    assert rules.unreferenced_qt_libraries(needed_by) == {
        f"{lib}libQt6EglFSDeviceIntegration.so.6",
        f"{lib}libQt6Network.so.6",
    }


def test_size_targets() -> None:
    assert rules.MAX_DEB_BYTES == 90 * 1024 * 1024
    assert rules.MAX_INSTALLED_BYTES == 250 * 1024 * 1024
