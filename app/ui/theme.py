"""Look and feel: light or dark following the system, one calm accent colour, a small stylesheet, the icons.

The Fusion style with our own palette looks the same on every platform and supports both schemes. The scheme
follows `QStyleHints.colorScheme()` (Qt 6.5+) and changes live when the system switches;
`SCRIPTWRIGHT_THEME=light` or `dark` forces one (screenshots, people who prefer the other).
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from PySide6 import QtGui
from PySide6.QtCore import QObject, QSize
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from PySide6.QtCore import Qt

THEME_ENV = "SCRIPTWRIGHT_THEME"
# The script's reading size, set by the stylesheet: a font made in Python before the first paint would build
# QFont's Python type and its enums (~2 ms).
SCRIPT_FONT_POINT_SIZE = 12.0
SCRIPT_LINE_HEIGHT_PERCENT = 150
_FOLLOWER_PROPERTY = "scriptwrightThemeFollower"
_FUSION_PROPERTY = "scriptwrightFusion"


class ThemeColors(NamedTuple):
    dark: bool
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    border: str
    accent: str
    accent_hover: str
    accent_pressed: str
    accent_text: str
    accent_soft: str  # a tint of the accent for chips and selections
    disabled_bg: str
    disabled_text: str
    warn_bg: str
    warn_border: str
    error_bg: str
    error_border: str
    icon: str


LIGHT = ThemeColors(
    dark=False,
    window="#F4F5F9",
    base="#FFFFFF",
    alt_base="#EEF0F6",
    text="#1E2230",
    muted="#5F6679",
    border="#D9DCE6",
    accent="#4A56D6",
    accent_hover="#3D48C2",
    accent_pressed="#333DA8",
    accent_text="#FFFFFF",
    accent_soft="#E6E8FB",
    disabled_bg="#C9CDEB",
    disabled_text="#F4F5FB",
    warn_bg="#FFF6E5",
    warn_border="#F1C77A",
    error_bg="#FDECEC",
    error_border="#EBA3A3",
    icon="#3A4050",
)

DARK = ThemeColors(
    dark=True,
    window="#1B1D23",
    base="#22252D",
    alt_base="#272A33",
    text="#E5E7EE",
    muted="#A2A8B8",
    border="#363A45",
    accent="#7B88F7",
    accent_hover="#8D98FA",
    accent_pressed="#6A77E6",
    accent_text="#11131A",
    accent_soft="#2E3350",
    disabled_bg="#3A3F5C",
    disabled_text="#8A8FA6",
    warn_bg="#3A3122",
    warn_border="#7D6431",
    error_bg="#3D2527",
    error_border="#8A4448",
    icon="#D3D6E0",
)


def system_prefers_dark(app: QGuiApplication, *, exact: bool = True) -> bool:
    """Does the system ask for dark? `exact=False` guesses from the platform's palette instead of asking
    `colorScheme()`, whose enum loads Qt's whole namespace (~20 ms): the guess serves the first paint and
    `ThemeFollower.recheck()` corrects it right after."""
    forced = os.environ.get(THEME_ENV, "").strip().lower()
    if forced in ("light", "dark"):
        return forced == "dark"
    if not exact:
        return app.palette().color(QPalette.ColorRole.Window).lightness() < 128
    from PySide6.QtCore import Qt

    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def current_colors() -> ThemeColors:
    app = QGuiApplication.instance()
    return DARK if isinstance(app, QGuiApplication) and bool(app.property("scriptwrightDark")) else LIGHT


def build_palette(c: ThemeColors) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    group = QPalette.ColorGroup
    for r, value in (
        (role.Window, c.window),
        (role.WindowText, c.text),
        (role.Base, c.base),
        (role.AlternateBase, c.alt_base),
        (role.Text, c.text),
        (role.Button, c.base),
        (role.ButtonText, c.text),
        (role.BrightText, "#FFFFFF"),
        (role.Highlight, c.accent),
        (role.HighlightedText, c.accent_text),
        (role.Link, c.accent),
        (role.LinkVisited, c.accent_pressed),
        (role.ToolTipBase, c.text),
        (role.ToolTipText, c.base),
        (role.PlaceholderText, c.muted),
        (role.Light, c.base),
        (role.Midlight, c.alt_base),
        (role.Mid, c.border),
        (role.Dark, c.border),
        (role.Shadow, "#000000"),
        (role.Accent, c.accent),
    ):
        p.setColor(r, QColor(value))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(c.muted))
    return p


def build_stylesheet(c: ThemeColors) -> str:
    return f"""
QMainWindow::separator {{ background: {c.border}; width: 1px; height: 1px; }}
QDockWidget {{ font-weight: 600; }}
QDockWidget::title {{ padding: 9px 12px 6px 12px; text-align: left; }}
QWidget#composer, QWidget#historyPanel {{ background: {c.window}; }}
QLabel#fieldLabel {{ color: {c.muted}; font-weight: 600; }}
QLineEdit#topicEdit {{
    padding: 9px 12px; border: 1px solid {c.border}; border-radius: 8px; background: {c.base};
    font-size: 12.5pt; selection-background-color: {c.accent}; selection-color: {c.accent_text};
}}
QLineEdit#topicEdit:focus, QLineEdit#historySearch:focus {{ border: 1px solid {c.accent}; }}
QLineEdit#historySearch {{
    padding: 6px 9px; border: 1px solid {c.border}; border-radius: 7px; background: {c.base};
}}
QPushButton#generateButton {{
    background: {c.accent}; color: {c.accent_text}; border: none; border-radius: 8px;
    padding: 10px 20px; font-weight: 600;
}}
QPushButton#generateButton:hover {{ background: {c.accent_hover}; }}
QPushButton#generateButton:pressed {{ background: {c.accent_pressed}; }}
QPushButton#generateButton:disabled {{ background: {c.disabled_bg}; color: {c.disabled_text}; }}
QPushButton#stopButton {{
    background: {c.base}; color: {c.text}; border: 1px solid {c.border}; border-radius: 8px;
    padding: 9px 14px;
}}
QPushButton#stopButton:hover {{ border-color: {c.accent}; }}
QPushButton#stopButton:disabled {{ color: {c.muted}; background: {c.window}; }}
QPushButton#poweredByBadge {{
    background: {c.accent_soft}; color: {c.text}; border: 1px solid transparent; border-radius: 12px;
    padding: 4px 12px; text-align: left;
}}
QPushButton#poweredByBadge:hover {{ border-color: {c.accent}; }}
QPushButton#poweredByBadge:focus {{ border-color: {c.accent}; }}
QTextEdit#scriptView {{
    background: {c.base}; border: 1px solid {c.border}; border-radius: 10px;
    selection-background-color: {c.accent}; selection-color: {c.accent_text};
    font-size: {SCRIPT_FONT_POINT_SIZE:g}pt;
}}
QLabel#statsLabel {{ color: {c.muted}; }}
QLabel#scriptTitle {{ font-size: 13pt; font-weight: 600; }}
QFrame#scriptBanner[kind="warning"] {{
    background: {c.warn_bg}; border: 1px solid {c.warn_border}; border-radius: 8px;
}}
QFrame#scriptBanner[kind="error"] {{
    background: {c.error_bg}; border: 1px solid {c.error_border}; border-radius: 8px;
}}
QFrame#scriptBanner[kind="info"] {{
    background: {c.accent_soft}; border: 1px solid {c.border}; border-radius: 8px;
}}
QListView#historyList {{ background: {c.window}; border: none; outline: none; }}
QLabel#historyEmpty {{ color: {c.muted}; padding: 18px 8px; }}
QStatusBar {{ border-top: 1px solid {c.border}; }}
QStatusBar::item {{ border: none; }}
QLabel#providerStatusLabel {{ padding: 0 6px; }}
QPushButton#statusActionButton, QPushButton#undoButton {{
    border: 1px solid {c.border}; border-radius: 6px; padding: 2px 10px; background: {c.base};
}}
QPushButton#statusActionButton:hover, QPushButton#undoButton:hover {{ border-color: {c.accent}; }}
QToolTip {{ color: {c.base}; background: {c.text}; border: none; padding: 4px 6px; }}
{_first_frame_icon_rules(c)}"""


def new_application(argv: list[str]) -> QApplication:
    """The application, in the Fusion style from the start.

    Given as `-style fusion` (after the caller's arguments, so it wins), Qt sets the style itself: asking
    `app.style()` which style is in use would build the Python type of QStyle and its eleven enums, ~8 ms
    before the first paint.
    """
    app = QApplication([*argv, "-style", "fusion"])
    app.setProperty(_FUSION_PROPERTY, True)
    return app


def apply_theme(app: QApplication, *, exact: bool = True) -> ThemeColors:
    """Apply the scheme the system prefers (or THEME_ENV) to the whole application; returns its colours."""
    colors = DARK if system_prefers_dark(app, exact=exact) else LIGHT
    if app.property(_FUSION_PROPERTY) is not True:
        if app.style().name().lower() != "fusion":
            app.setStyle("Fusion")
        app.setProperty(_FUSION_PROPERTY, True)
    app.setProperty("scriptwrightDark", colors.dark)
    app.setPalette(build_palette(colors))
    app.setStyleSheet(build_stylesheet(colors))
    icon.cache_clear()
    return colors


class ThemeFollower(QObject):
    """Re-applies the theme when the system's colour scheme changes; `changed` widgets refresh their icons."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._app = app
        self._listeners: list[object] = []
        app.styleHints().colorSchemeChanged.connect(self._on_scheme_changed)

    def add_listener(self, callback: object) -> None:
        self._listeners.append(callback)

    def recheck(self) -> None:
        """Ask the system for its scheme exactly (the first paint used a guess); re-apply if it differs."""
        if system_prefers_dark(self._app) != current_colors().dark:
            self._on_scheme_changed(None)

    def _on_scheme_changed(self, _scheme: Qt.ColorScheme | None) -> None:
        colors = apply_theme(self._app)
        for callback in list(self._listeners):
            if callable(callback):
                callback(colors)


def follow_system_theme(app: QApplication, *, exact: bool = True) -> ThemeFollower:
    apply_theme(app, exact=exact)
    # A property, not app.findChild(): that would wrap the application's children (style, event dispatcher)
    # and build their enums, ~14 ms before the first paint.
    follower = app.property(_FOLLOWER_PROPERTY)
    if not isinstance(follower, ThemeFollower):
        follower = ThemeFollower(app)
        app.setProperty(_FOLLOWER_PROPERTY, follower)
    return follower


# --- resources ------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def resource_dir() -> Path | None:
    """Where the icons live: beside the package when installed, `resources/` in a source tree or a bundle."""
    here = Path(__file__).resolve()
    candidates = [here.parent / "resources", here.parents[2] / "resources"]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.insert(0, Path(bundle) / "resources")
    for candidate in candidates:
        if (candidate / "icons").is_dir():
            return candidate
    return None


# The icons in the window's first frame are drawn by the stylesheet from ready-tinted PNG files: made in
# Python, they would build QIcon's and QPixmap's types (~3 ms, `QIcon.ThemeIcon` alone has 151 members) and
# render each SVG before the first paint; as SVG files, Qt would load its SVG library and two plugins for
# them (~2.5 ms). (name, ThemeColors field, pixels, drawn in a text field): each is rendered at its size and
# at twice it (`@2x`, which Qt picks on dense screens); the search field's is a background image, so its
# file also holds the inset from the field's edge. `python packaging/make_icons.py --sources` writes them to
# resources/icons/tinted; a test keeps them equal to renders of `stylesheet_icon_sources()`.
FIELD_ICON_PX = 16
FIRST_FRAME_ICONS = (
    ("stop", "icon", 14, False),
    ("generate", "accent_text", 16, False),
    ("search", "icon", FIELD_ICON_PX, True),
)
FIRST_FRAME_SCALES = (1, 2)
TINTED_DIR = "tinted"
FIELD_ICON_INSET_PX = 8
_SOURCE_SIZE = 'width="24" height="24" viewBox="0 0 24 24"'  # every icon in resources/icons is drawn so


def tinted_icon_name(name: str, color: str, *, field: bool = False, scale: int = 1) -> str:
    kind = "-field" if field else ""
    density = f"@{scale}x" if scale != 1 else ""
    return f"{name}{kind}-{color.lstrip('#').upper()}{density}.png"


def tinted_svg(source: str, color: str, px: int | None = None, *, field: bool = False, scale: int = 1) -> str:
    """`source` (an icon of resources/icons, drawn in #000000) in `color`; `px` high at `scale` (else its own
    24); as a field's background image, with FIELD_ICON_INSET_PX of space at its left."""
    svg = source.replace("#000000", color)
    if px is not None:
        inset = FIELD_ICON_INSET_PX if field else 0
        units = 24 / px  # the source's units per pixel
        view_box = f"{0 - inset * units:g} 0 {(inset + px) * units:g} 24"  # 0 - 0.0 is 0, not -0
        svg = svg.replace(
            _SOURCE_SIZE, f'width="{(inset + px) * scale}" height="{px * scale}" viewBox="{view_box}"', 1
        )
    return svg


def stylesheet_icon_sources(icons_dir: Path) -> dict[str, str]:
    """Every tinted file either theme's stylesheet draws, by name, with the SVG it is rendered from."""
    sources: dict[str, str] = {}
    for colors in (LIGHT, DARK):
        for name, role, px, field in FIRST_FRAME_ICONS:
            source = (icons_dir / f"{name}.svg").read_text(encoding="utf-8")
            color = getattr(colors, role)
            for scale in FIRST_FRAME_SCALES:
                sources[tinted_icon_name(name, color, field=field, scale=scale)] = tinted_svg(
                    source, color, px, field=field, scale=scale
                )
    return sources


def _first_frame_icon_rules(c: ThemeColors) -> str:
    base = resource_dir()
    if base is None:
        return ""
    folder = base / "icons" / TINTED_DIR
    sizes = {name: px for name, _role, px, _field in FIRST_FRAME_ICONS}

    def url(name: str, color: str, *, field: bool = False) -> str:
        return f'url("{(folder / tinted_icon_name(name, color, field=field)).as_posix()}")'

    text_start = FIELD_ICON_INSET_PX + FIELD_ICON_PX + 12  # the inset, the icon, a 12 px gap, the text
    return f"""QPushButton#stopButton {{
    qproperty-icon: {url("stop", c.icon)}; qproperty-iconSize: {sizes["stop"]}px {sizes["stop"]}px;
}}
QPushButton#generateButton {{
    qproperty-icon: {url("generate", c.accent_text)};
    qproperty-iconSize: {sizes["generate"]}px {sizes["generate"]}px;
}}
QLineEdit#historySearch {{
    background-image: {url("search", c.icon, field=True)}; background-repeat: no-repeat;
    background-position: left center; background-origin: border; padding-left: {text_start}px;
}}
"""


@lru_cache(maxsize=1)  # read once, after the first paint: the application's window icon and the About box's
def app_icon() -> QtGui.QIcon:
    base = resource_dir()
    result = QtGui.QIcon()
    if base is None:
        return result
    for size in (16, 24, 32, 48, 64, 128, 256):
        png = base / "app-icon" / f"scriptwright-{size}.png"
        if png.is_file():
            result.addFile(str(png), QSize(size, size))
    svg = base / "app-icon" / "scriptwright.svg"
    if result.isNull() and svg.is_file():
        result.addFile(str(svg))
    return result


@lru_cache(maxsize=64)
def icon(name: str, color: str | None = None, size: int = 18) -> QtGui.QIcon:
    """A line icon from resources/icons drawn in `color` (default: the theme's icon colour), or empty. (QIcon
    and QPixmap are reached through their module: see FIRST_FRAME_ICONS.)"""
    base = resource_dir()
    path = base / "icons" / f"{name}.svg" if base else None
    if path is None or not path.is_file():
        return QtGui.QIcon()
    source = path.read_text(encoding="utf-8")
    result = QtGui.QIcon()
    for scale in (1, 2):
        data = tinted_svg(source, color or current_colors().icon, size, scale=scale).encode()
        pixmap = QtGui.QPixmap()
        if pixmap.loadFromData(data, "SVG"):
            pixmap.setDevicePixelRatio(scale)
            result.addPixmap(pixmap)
    return result
