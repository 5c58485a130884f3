"""Render the app icon for the installers from resources/app-icon/scriptwright.svg (the one source).

    python packaging/make_icons.py OUT_DIR
    python packaging/make_icons.py --sources

The first writes OUT_DIR/hicolor/<N>x<N>/apps/scriptwright.png (Linux, freedesktop icon theme),
OUT_DIR/scriptwright.ico (Windows, PNG-compressed entries) and OUT_DIR/scriptwright.icns (macOS, PNG
entries). A resources/app-icon/scriptwright-<N>.png is used as is for its size; other sizes are rendered from
the SVG with PySide6's QSvgRenderer on the offscreen platform, so no display and no other image tool is
needed. Needs PySide6 (the build venv has it); runs the same on Linux, Windows and macOS. `--sources`
renders the SVG afresh into resources/app-icon/scriptwright-<N>.png (the sizes the window loads), after the
SVG has changed, and writes resources/icons/tinted: PNG renders of the line icons, in each theme's colours
and at 1x and 2x, that the window's stylesheet draws in its first frame (`app.ui.theme.FIRST_FRAME_ICONS`),
after an icon, a theme colour or an icon's size has changed.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "resources" / "app-icon"
SVG_NAME = "scriptwright.svg"
ICON_NAME = "scriptwright"
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
SOURCE_SIZES = ICO_SIZES  # the PNGs kept beside the SVG
# ICNS entry types holding PNG data, by pixel size (the @2x types reuse the larger renders).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),
    (b"icp6", 64),
    (b"ic12", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic13", 256),
    (b"ic09", 512),
    (b"ic14", 512),
    (b"ic10", 1024),
)


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico with one PNG-compressed image per size (Vista and later read these)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    directory = b""
    for size in sizes:
        data = pngs[size]
        side = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        directory += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return header + directory + b"".join(pngs[size] for size in sizes)


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns whose entries are PNG data (10.7 and later read these)."""
    body = b""
    for kind, size in ICNS_TYPES:
        if size in pngs:
            data = pngs[size]
            body += kind + struct.pack(">I", 8 + len(data)) + data
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def render_svg(svg: bytes, width: int | None = None, height: int | None = None) -> QImage:
    """`svg` drawn antialiased on transparency: `width` x `height`, else `width` square, else its own size."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QByteArray, QSize, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise SystemExit("cannot read an SVG")
    size = renderer.defaultSize() if width is None else QSize(width, height or width)
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def render_pngs(sizes: set[int], *, use_hand_made: bool = True) -> dict[int, bytes]:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    svg = (SOURCE_DIR / SVG_NAME).read_bytes()
    result: dict[int, bytes] = {}
    for size in sorted(sizes):
        hand_made = SOURCE_DIR / f"{ICON_NAME}-{size}.png"
        if use_hand_made and hand_made.is_file():
            result[size] = hand_made.read_bytes()
            continue
        image = render_svg(svg, size)
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise SystemExit(f"cannot encode a {size}px PNG")
        buffer.close()
        result[size] = bytes(data.data())
    return result


def write_tinted_icons() -> None:
    sys.path.insert(0, str(ROOT))
    from app.ui import theme

    icons = ROOT / "resources" / "icons"
    folder = icons / theme.TINTED_DIR
    folder.mkdir(exist_ok=True)
    sources = theme.stylesheet_icon_sources(icons)
    for stale in folder.iterdir():  # a colour that changed leaves no file behind
        if stale.name not in sources:
            stale.unlink()
    for name, svg in sources.items():
        if not render_svg(svg.encode()).save(str(folder / name), "PNG"):
            raise SystemExit(f"cannot write {folder / name}")
        print(folder / name)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "--sources":
        for size, data in render_pngs(set(SOURCE_SIZES), use_hand_made=False).items():
            target = SOURCE_DIR / f"{ICON_NAME}-{size}.png"
            target.write_bytes(data)
            print(target)
        write_tinted_icons()
        return 0
    out = Path(argv[0])
    pngs = render_pngs({*HICOLOR_SIZES, *ICO_SIZES, *(size for _kind, size in ICNS_TYPES)})
    for size in HICOLOR_SIZES:
        target = out / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pngs[size])
    scalable = out / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes((SOURCE_DIR / SVG_NAME).read_bytes())
    (out / f"{ICON_NAME}.ico").write_bytes(ico_bytes({size: pngs[size] for size in ICO_SIZES}))
    (out / f"{ICON_NAME}.icns").write_bytes(icns_bytes(pngs))
    print(f"icons: {len(HICOLOR_SIZES)} PNG sizes + SVG, .ico, .icns in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
