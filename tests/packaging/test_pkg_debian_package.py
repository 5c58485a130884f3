"""The .deb's control file, desktop entry, layout and library audit (debian_package.py), no build."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging_modules import PACKAGING, ROOT, load

deb = load("debian_package")

# The system libraries the issue names: the bundle needs them from the target.
REQUIRED_DEPENDS = (
    "libc6",
    "libegl1",
    "libgl1",
    "libxcb1",
    "libdrm2",
    "libwayland-client0",
    "libxkbcommon0",
    "libfontconfig1",
    "libfreetype6",
    "libglib2.0-0",
    "libdbus-1-3",
    "libx11-6",
    "libxcb-cursor0",
    "libxkbcommon-x11-0",
    "libx11-xcb1",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-xfixes0",
    "libxcb-xkb1",
)


@pytest.mark.parametrize(
    ("pep440", "debian"),
    [
        ("0.1.0", "0.1.0"),
        ("1.2.0rc1", "1.2.0~rc1"),
        ("1.2.0a2", "1.2.0~a2"),
        ("1.2.0b1", "1.2.0~b1"),
        ("1.2.0.dev3", "1.2.0~~dev3"),
        ("1.2.0a1.dev2", "1.2.0~a1~~dev2"),
        ("1.2.0.post1", "1.2.0.post1"),
        ("1.2.0+local.7", "1.2.0+local.7"),
        ("1!2.0", "1:2.0"),
    ],
)
def test_debian_version(pep440: str, debian: str) -> None:
    assert deb.debian_version(pep440) == debian


def test_debian_versions_sort_like_pep440() -> None:
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed")
    ordered = [
        "1.0.0.dev1",
        "1.0.0a1.dev1",
        "1.0.0a1",
        "1.0.0b2",
        "1.0.0rc1",
        "1.0.0",
        "1.0.0.post1",
        "1.0.1",
    ]
    for lower, higher in itertools.pairwise(ordered):
        result = subprocess.run(
            ["dpkg", "--compare-versions", deb.debian_version(lower), "lt", deb.debian_version(higher)]
        )
        assert result.returncode == 0, f"{lower} should sort before {higher}"


def test_the_version_has_one_source() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    version = pyproject["project"]["version"]
    assert deb.read_project_version(ROOT / "pyproject.toml") == version
    assert deb.deb_filename(version, "amd64") == f"scriptwright_{deb.debian_version(version)}_amd64.deb"


def test_the_installed_app_reports_the_pyproject_version(capsys: pytest.CaptureFixture[str]) -> None:
    """What `scriptwright-cli --version` prints comes from the installed metadata, i.e. from pyproject."""
    import app
    from app.cli import main

    version = deb.read_project_version(ROOT / "pyproject.toml")
    if app.__version__ == "0.0.0+source":
        pytest.skip("scriptwright is not installed in this environment (no metadata)")
    assert app.__version__ == version
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"scriptwright {version}"


def _control(**overrides: object) -> str:
    fields: dict[str, object] = {
        "version": "0.1.0",
        "architecture": "amd64",
        "installed_size_kib": 1234,
        "depends": deb.depends_field("2.35", "11"),
    }
    fields.update(overrides)
    return deb.control_text(**fields)


def _fields(control: str) -> dict[str, str]:
    result: dict[str, str] = {}
    key = ""
    for line in control.splitlines():
        if line.startswith(" "):
            result[key] += "\n" + line
        else:
            key, _, value = line.partition(": ")
            result[key] = value
    return result


def test_control_file() -> None:
    control = _control()
    assert control.endswith("\n") and not control.endswith("\n\n")
    fields = _fields(control)
    assert fields["Package"] == "scriptwright"
    assert fields["Version"] == "0.1.0"
    assert fields["Architecture"] == "amd64"
    assert fields["Installed-Size"] == "1234"
    assert fields["Maintainer"]
    description = fields["Description"].splitlines()
    assert description[0] and len(description[0]) < 80
    assert all(line.startswith(" ") and len(line) <= 80 for line in description[1:])


def test_depends_names_what_the_bundle_needs_from_the_target() -> None:
    depends = [part.strip() for part in deb.depends_field("2.35", "11").split(",")]
    names = {part.split()[0] for part in depends if "|" not in part}
    for package in REQUIRED_DEPENDS:
        assert package in names, package
    assert "libc6 (>= 2.35)" in depends
    assert "libstdc++6 (>= 11)" in depends
    fonts = [part for part in depends if "fonts-" in part]
    assert fonts and fonts[0].startswith("fonts-dejavu-core")


def test_desktop_entry() -> None:
    entry = deb.parse_desktop_entry(deb.desktop_entry_text())
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Scriptwright"
    assert entry["Exec"] == "scriptwright"
    assert entry["Icon"] == deb.ICON_NAME
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")
    assert entry["StartupWMClass"] == "Scriptwright"  # WM_CLASS ("scriptwright", "Scriptwright") under X11


def test_desktop_entry_validates(tmp_path: Path) -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed (Debian: desktop-file-utils)")
    path = tmp_path / deb.DESKTOP_FILE
    path.write_text(deb.desktop_entry_text(), encoding="utf-8")
    result = subprocess.run([validator, str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def _fake_bundle(tmp_path: Path) -> tuple[Path, Path]:
    bundle = tmp_path / "bundle"
    (bundle / "_internal" / "PySide6").mkdir(parents=True)
    for name in deb.EXECUTABLES:
        (bundle / name).write_bytes(b"\x7fELF fake")
    (bundle / "_internal" / "libpython3.11.so.1.0").write_bytes(b"\x7fELF" + b"x" * 3000)
    (bundle / "_internal" / "base_library.zip").write_bytes(b"zip")
    (bundle / "_internal" / "libQt6Core.so.6").symlink_to("PySide6/libQt6Core.so.6")
    icons = tmp_path / "icons"
    for size in deb.HICOLOR_SIZES:
        png = icons / "hicolor" / f"{size}x{size}" / "apps" / f"{deb.ICON_NAME}.png"
        png.parent.mkdir(parents=True)
        png.write_bytes(b"png")
    return bundle, icons


def test_package_layout(tmp_path: Path) -> None:
    bundle, icons = _fake_bundle(tmp_path)
    root = tmp_path / "root"
    deb.stage(root=root, bundle_dir=bundle, icons_dir=icons, copyright_text="MIT\n")
    deb.write_control(root, _control(installed_size_kib=deb.installed_size_kib(root)))

    for name in deb.EXECUTABLES:
        assert (root / "opt" / "scriptwright" / name).is_file()
        link = root / "usr" / "bin" / name
        assert link.is_symlink() and os.readlink(link) == f"/opt/scriptwright/{name}"
        assert (root / "opt" / "scriptwright" / name).stat().st_mode & 0o777 == 0o755
    assert (root / "opt" / "scriptwright" / "_internal" / "libQt6Core.so.6").is_symlink()
    assert (root / "opt/scriptwright/_internal/base_library.zip").stat().st_mode & 0o777 == 0o644
    assert (root / "usr/share/applications/scriptwright.desktop").is_file()
    assert (root / "usr/share/icons/hicolor/256x256/apps/scriptwright.png").is_file()
    assert (root / "usr/share/doc/scriptwright/copyright").read_text() == "MIT\n"
    # No maintainer scripts: nothing runs on install or removal, so nothing can touch the user's data.
    assert sorted(p.name for p in (root / "DEBIAN").iterdir()) == ["control", "md5sums"]
    md5sums = (root / "DEBIAN" / "md5sums").read_text().splitlines()
    assert any(line.endswith("  opt/scriptwright/scriptwright") for line in md5sums)
    assert not any("libQt6Core.so.6" in line for line in md5sums)  # symlinks have no checksum


def test_installed_size_counts_kib_per_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "one").write_bytes(b"x" * 1025)  # 2 KiB
    (root / "a" / "two").write_bytes(b"x")  # 1 KiB
    (root / "a" / "link").symlink_to("one")  # 1
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_bytes(b"x" * 5000)  # not counted
    assert deb.installed_size_kib(root) == 1 + 2 + 1 + 1  # folder a, one, two, link


OBJDUMP = """
/b/_internal/libQt6Gui.so.6:     file format elf64-x86-64

Dynamic Section:
  NEEDED               libQt6Core.so.6
  NEEDED               libfontconfig.so.1
  NEEDED               libc.so.6

Version References:
  required from libc.so.6:
    0x06969194 0x00 12 GLIBC_2.14
    0x069691b4 0x00 05 GLIBC_2.34
  required from libstdc++.so.6:
    0x02297f89 0x00 10 GLIBCXX_3.4.29

/b/scriptwright:     file format elf64-x86-64

Dynamic Section:
  NEEDED               libz.so.1
"""


def test_objdump_parsing() -> None:
    parts = deb.split_objdump(OBJDUMP)
    assert list(parts) == ["/b/_internal/libQt6Gui.so.6", "/b/scriptwright"]
    needed, versions = deb.parse_objdump(parts["/b/_internal/libQt6Gui.so.6"])
    assert needed == ["libQt6Core.so.6", "libfontconfig.so.1", "libc.so.6"]
    assert versions == {"GLIBC_2.14", "GLIBC_2.34", "GLIBCXX_3.4.29"}
    assert deb.parse_objdump(parts["/b/scriptwright"])[0] == ["libz.so.1"]


def test_ldconfig_lookup() -> None:
    output = (
        "1234 libs found in cache `/etc/ld.so.cache'\n"
        "\tlibxcb-cursor.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libxcb-cursor.so.0\n"
        "\tlibxcb.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libxcb.so.1\n"
    )
    assert deb.library_path("libxcb.so.1", output) == "/lib/x86_64-linux-gnu/libxcb.so.1"
    assert deb.library_path("libxcb.so", output) is None


def test_path_aliases_cover_merged_usr() -> None:
    aliases = deb.path_aliases("/lib/x86_64-linux-gnu/libc.so.6")
    assert "/lib/x86_64-linux-gnu/libc.so.6" in aliases
    assert "/usr/lib/x86_64-linux-gnu/libc.so.6" in aliases


def test_undeclared_needs_are_reported() -> None:
    owners = {"libxcb.so.1": "libxcb1", "libgtk-3.so.0": "libgtk-3-0", "libmystery.so": None}
    problems = deb.undeclared_needs(owners)
    assert len(problems) == 2
    assert any("libgtk-3-0" in problem for problem in problems)
    assert any("libmystery.so" in problem for problem in problems)


def test_shell_scripts_parse() -> None:
    for script in ("build.sh", "smoke_test.sh", "macos/build_dmg.sh"):
        path = PACKAGING / script
        if path.exists():
            subprocess.run(["bash", "-n", str(path)], check=True)
