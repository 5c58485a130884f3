"""The ready-tinted icons the window's stylesheet draws in its first frame (resources/icons/tinted)."""

from __future__ import annotations

from packaging_modules import ROOT, load
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from app.ui import theme

icons = load("make_icons")


def test_the_tinted_icons_are_renders_of_their_sources_in_the_theme_colours(qapp: QApplication) -> None:
    # qapp first: make_icons would otherwise make a QGuiApplication, which the widget tests cannot use.
    folder = ROOT / "resources" / "icons" / theme.TINTED_DIR
    sources = theme.stylesheet_icon_sources(ROOT / "resources" / "icons")
    # After changing an icon, a theme colour or an icon's size: `python packaging/make_icons.py --sources`.
    assert {path.name for path in folder.iterdir()} == set(sources)
    for name, svg in sources.items():
        expected = icons.render_svg(svg.encode())
        found = QImage(str(folder / name)).convertToFormat(expected.format())
        assert found.size() == expected.size(), name
        # Equal to within a little antialiasing, should another Qt version draw an edge differently.
        differences = (
            abs(a - b) for a, b in zip(bytes(found.constBits()), bytes(expected.constBits()), strict=True)
        )
        assert max(differences) <= 8, name
    stop = QImage(str(folder / theme.tinted_icon_name("stop", theme.LIGHT.icon, scale=2)))
    assert (stop.width(), stop.height()) == (28, 28)  # 14 px, for screens of twice the density
    field = QImage(str(folder / theme.tinted_icon_name("search", theme.DARK.icon, field=True)))
    assert (field.width(), field.height()) == (theme.FIELD_ICON_INSET_PX + theme.FIELD_ICON_PX, 16)
