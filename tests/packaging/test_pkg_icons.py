"""The icon containers written by packaging/make_icons.py (.ico for Windows, .icns for macOS), without Qt."""

from __future__ import annotations

import struct

from packaging_modules import ROOT, load

icons = load("make_icons")


def _png(size: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", size) * 4


def test_ico_directory_points_at_each_png() -> None:
    pngs = {16: _png(16), 32: _png(32), 256: _png(256)}
    data = icons.ico_bytes(pngs)
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind, count) == (0, 1, 3)
    for index, size in enumerate(sorted(pngs)):
        width, height, _colors, _res, planes, bits, length, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        assert width == height == (0 if size == 256 else size)
        assert (planes, bits) == (1, 32)
        assert data[offset : offset + length] == pngs[size]


def test_icns_entries_hold_the_pngs() -> None:
    pngs = {size: _png(size) for size in (16, 32, 64, 128, 256, 512, 1024)}
    data = icons.icns_bytes(pngs)
    assert data[:4] == b"icns" and struct.unpack_from(">I", data, 4)[0] == len(data)
    position, seen = 8, {}
    while position < len(data):
        kind = data[position : position + 4]
        length = struct.unpack_from(">I", data, position + 4)[0]
        seen[kind] = data[position + 8 : position + length]
        position += length
    assert seen[b"ic10"] == pngs[1024] and seen[b"ic07"] == pngs[128] and seen[b"icp4"] == pngs[16]


def test_the_svg_source_exists() -> None:
    assert (ROOT / "resources" / "app-icon" / icons.SVG_NAME).is_file()
