"""The .deb: its layout, control file, desktop entry, Depends, and the audit of what the bundle needs.

Plain Python (standard library only) so `tests/packaging` can check it without building. `build.py` uses it.

Layout of the package:
    /opt/scriptwright/                    the PyInstaller one-folder bundle (both executables)
    /usr/bin/scriptwright                 -> /opt/scriptwright/scriptwright       (symlink)
    /usr/bin/scriptwright-cli             -> /opt/scriptwright/scriptwright-cli   (symlink)
    /usr/share/applications/scriptwright.desktop
    /usr/share/icons/hicolor/<N>x<N>/apps/scriptwright.png, .../scalable/apps/scriptwright.svg
    /usr/share/doc/scriptwright/copyright

No maintainer scripts: the icon cache and the desktop database are refreshed by the dpkg triggers of
hicolor-icon-theme and desktop-file-utils, and nothing of the user's (their data folder, their keys) is
touched by an install, a removal or a purge.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "scriptwright"
INSTALL_DIR = "/opt/scriptwright"
EXECUTABLES = ("scriptwright", "scriptwright-cli")
DESKTOP_FILE = "scriptwright.desktop"
ICON_NAME = "scriptwright"
DEFAULT_MAINTAINER = "Scriptwright developers <noreply@scriptwright.invalid>"
SUMMARY = "write video scripts with the LLM you choose (Ollama, Gemini, Groq)"
DESCRIPTION = (
    "Scriptwright is a desktop app in which creators write video scripts with the\n"
    "language model they choose: Ollama (local), Google Gemini or Groq (cloud),\n"
    "switchable at any time. A live rate-limit panel shows where you stand with each\n"
    "provider's limits, and the app never sends a request it knows will be refused.\n"
    "Includes scriptwright-cli, the same core on the command line."
)

# What the bundle needs from the target system, by Debian 12 package name. The bundle carries Qt, ICU,
# PySide6, Python and the Python packages; everything below comes from the target (build.py's audit fails
# the build if a bundled binary needs a library whose package is not listed here).
SYSTEM_DEPENDS: Mapping[str, str] = {
    # C/C++ runtime and the libraries Python's own extension modules link
    "libc6": "C library (the minimum version is computed from the bundle)",
    "libgcc-s1": "GCC runtime",
    "libstdc++6": "C++ runtime (Qt)",
    "zlib1g": "zlib (Python, Qt)",
    "libbz2-1.0": "bz2 module",
    "liblzma5": "lzma module",
    "libzstd1": "zstd (Qt Core)",
    "libffi8": "ctypes, cffi",
    "libssl3": "ssl and hashlib modules: HTTPS to the providers",
    "libsqlite3-0": "sqlite3 module: the app's database",
    "libuuid1": "uuid module",
    # Qt's GUI stack
    "libegl1": "OpenGL/EGL dispatch (libglvnd)",
    "libgl1": "OpenGL dispatch (libglvnd)",
    "libdrm2": "direct rendering, loaded by the Mesa EGL/GL drivers",
    "libfontconfig1": "font discovery",
    "libfreetype6": "font rendering",
    "libglib2.0-0": "Qt's GLib event dispatcher",
    "libdbus-1-3": "Qt DBus: portals, accessibility, Secret Service keychain",
    "libxkbcommon0": "keyboard handling",
    # X11 (the xcb platform plugin)
    "libx11-6": "X11",
    "libx11-xcb1": "X11/xcb bridge",
    "libxcb1": "xcb",
    "libxcb-cursor0": "xcb cursors (Qt >= 6.5 needs it to start on X11 at all)",
    "libxcb-glx0": "xcb GLX",
    "libxcb-icccm4": "xcb ICCCM",
    "libxcb-image0": "xcb images",
    "libxcb-keysyms1": "xcb key symbols",
    "libxcb-randr0": "xcb RandR (screens)",
    "libxcb-render-util0": "xcb render utilities",
    "libxcb-render0": "xcb render",
    "libxcb-shape0": "xcb shape",
    "libxcb-shm0": "xcb shared memory",
    "libxcb-sync1": "xcb sync",
    "libxcb-util1": "xcb utilities",
    "libxcb-xfixes0": "xcb XFixes",
    "libxcb-xkb1": "xcb XKB",
    "libxkbcommon-x11-0": "keyboard handling on X11",
    # Wayland (the wayland platform plugin)
    "libwayland-client0": "Wayland client",
    "libwayland-cursor0": "Wayland cursors",
    "libwayland-egl1": "Wayland EGL",
}
# A font, any of these (Qt finds it through fontconfig).
FONT_DEPENDS = ("fonts-dejavu-core", "fonts-liberation2", "fonts-freefont-ttf")
# Minimum libstdc++6 (GCC) release for the highest GLIBCXX_3.4.N symbol version a bundled binary needs.
GLIBCXX_GCC_RELEASE = {26: "9", 28: "10", 29: "11", 30: "12", 31: "13", 32: "13.2", 33: "14"}

HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


# --- versions -----------------------------------------------------------------------------------------------


def read_project_version(pyproject: Path) -> str:
    """`[project] version` from pyproject.toml: the one source of the version."""
    import tomllib

    with pyproject.open("rb") as handle:
        data = tomllib.load(handle)
    version = data.get("project", {}).get("version")
    if not isinstance(version, str) or not version:
        raise ValueError(f"{pyproject} has no [project] version")
    return version


def debian_version(version: str) -> str:
    """A PEP 440 version as a Debian version that sorts the same way.

    Pre-releases and dev releases sort before the release in PEP 440, and "~" does that in Debian:
    1.2.0rc1 -> 1.2.0~rc1, 1.2.0a1 -> 1.2.0~a1; dev releases sort before pre-releases, hence "~~":
    1.2.0.dev3 -> 1.2.0~~dev3, 1.2.0a1.dev2 -> 1.2.0~a1~~dev2; a local label: 1.2.0+abc -> 1.2.0+abc;
    a post-release: 1.2.0.post1 -> 1.2.0.post1 (sorts after 1.2.0 in both).
    """
    epoch = ""
    if "!" in version:
        epoch, version = version.split("!", 1)
        epoch += ":"
    public, plus, local = version.partition("+")
    public = re.sub(r"[.-]?(dev)(\d*)", r"~~\1\2", public)
    public = re.sub(r"(?<=\d)[.-]?(a|b|rc|alpha|beta|c|pre|preview)(\d*)", r"~\1\2", public)
    result = epoch + public + (plus + re.sub(r"[^A-Za-z0-9.+~]", ".", local) if plus else "")
    if not re.fullmatch(r"(\d+:)?\d[A-Za-z0-9.+~-]*", result):
        raise ValueError(f"cannot express {version!r} as a Debian version")
    return result


def deb_filename(version: str, architecture: str) -> str:
    return f"{PACKAGE}_{debian_version(version)}_{architecture}.deb"


# --- control and desktop files ------------------------------------------------------------------------------


def depends_field(glibc_floor: str | None, glibcxx_floor: str | None) -> str:
    parts = []
    for package in SYSTEM_DEPENDS:
        if package == "libc6" and glibc_floor:
            parts.append(f"libc6 (>= {glibc_floor})")
        elif package == "libstdc++6" and glibcxx_floor:
            parts.append(f"libstdc++6 (>= {glibcxx_floor})")
        else:
            parts.append(package)
    parts.append(" | ".join(FONT_DEPENDS))
    return ", ".join(parts)


def control_text(
    *,
    version: str,
    architecture: str,
    installed_size_kib: int,
    depends: str,
    maintainer: str = DEFAULT_MAINTAINER,
) -> str:
    description = "\n".join(f" {line}" if line.strip() else " ." for line in DESCRIPTION.splitlines())
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {debian_version(version)}\n"
        f"Architecture: {architecture}\n"
        f"Maintainer: {maintainer}\n"
        f"Installed-Size: {installed_size_kib}\n"
        f"Depends: {depends}\n"
        "Section: utils\n"
        "Priority: optional\n"
        f"Description: {SUMMARY}\n"
        f"{description}\n"
    )


def desktop_entry_text() -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.4\n"
        "Name=Scriptwright\n"
        "GenericName=Video Script Writer\n"
        "Comment=Write video scripts with the LLM you choose: Ollama, Gemini or Groq\n"
        f"Exec={EXECUTABLES[0]}\n"
        f"TryExec={EXECUTABLES[0]}\n"
        f"Icon={ICON_NAME}\n"
        "Terminal=false\n"
        "Categories=Office;WordProcessor;Qt;\n"
        "Keywords=script;video;YouTube;writing;LLM;AI;Ollama;Gemini;Groq;\n"
        "StartupNotify=true\n"
        "StartupWMClass=Scriptwright\n"  # the X11 WM_CLASS class (QApplication name); instance: scriptwright
    )


def parse_desktop_entry(text: str) -> dict[str, str]:
    """The [Desktop Entry] group's keys (enough for tests; desktop-file-validate does the real check)."""
    entries: dict[str, str] = {}
    group = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            group = line.strip("[]")
            continue
        if group == "Desktop Entry" and "=" in line:
            key, value = line.split("=", 1)
            entries[key] = value
    return entries


# --- staging the package tree -------------------------------------------------------------------------------


def stage(
    *,
    root: Path,
    bundle_dir: Path,
    icons_dir: Path,
    copyright_text: str,
) -> None:
    """Lay the package's files out under `root` (DEBIAN/ is written later, by `write_control`)."""
    if root.exists():
        shutil.rmtree(root)
    install_dir = root / INSTALL_DIR.lstrip("/")
    install_dir.parent.mkdir(parents=True)
    shutil.copytree(bundle_dir, install_dir, symlinks=True)
    bin_dir = root / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    for name in EXECUTABLES:
        (bin_dir / name).symlink_to(f"{INSTALL_DIR}/{name}")
    applications = root / "usr" / "share" / "applications"
    applications.mkdir(parents=True)
    (applications / DESKTOP_FILE).write_text(desktop_entry_text(), encoding="utf-8")
    hicolor = root / "usr" / "share" / "icons" / "hicolor"
    shutil.copytree(icons_dir / "hicolor", hicolor)
    doc = root / "usr" / "share" / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(copyright_text, encoding="utf-8")
    normalise_modes(root)


def normalise_modes(root: Path) -> None:
    """0755 for folders and executables (ELF files and anything already executable), 0644 for the rest."""
    for current, dirs, files in os.walk(root):
        for name in dirs:
            path = Path(current, name)
            if not path.is_symlink():
                path.chmod(0o755)
        for name in files:
            path = Path(current, name)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            executable = bool(mode & stat.S_IXUSR) or is_elf(path)
            path.chmod(0o755 if executable else 0o644)
    root.chmod(0o755)


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def installed_size_kib(root: Path) -> int:
    """Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up, plus one per link/folder."""
    total = 0
    for current, dirs, files in os.walk(root):
        if Path(current) == root and "DEBIAN" in dirs:
            dirs.remove("DEBIAN")
        for name in files + dirs:
            path = Path(current, name)
            if path.is_symlink() or path.is_dir():
                total += 1
            else:
                total += (path.stat().st_size + 1023) // 1024
    return total


def write_control(root: Path, control: str) -> None:
    debian = root / "DEBIAN"
    debian.mkdir(exist_ok=True)
    (debian / "control").write_text(control, encoding="utf-8")
    (debian / "md5sums").write_text(md5sums(root), encoding="utf-8")
    for path in debian.iterdir():
        path.chmod(0o644)
    debian.chmod(0o755)


def md5sums(root: Path) -> str:
    lines = []
    for current, dirs, files in os.walk(root):
        dirs.sort()
        relative_dir = Path(current).relative_to(root)
        if relative_dir.parts[:1] == ("DEBIAN",):
            continue
        for name in sorted(files):
            path = Path(current, name)
            if path.is_symlink():
                continue
            digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
            lines.append(f"{digest}  {(relative_dir / name).as_posix()}")
    return "\n".join(lines) + "\n"


# --- what the bundle needs from the system ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SystemNeeds:
    """The shared libraries that bundled ELF files need and the bundle does not carry."""

    libraries: dict[str, set[str]]  # soname -> the bundled files that need it
    glibc_floor: str | None  # the highest GLIBC_x.y symbol version referenced
    glibcxx_floor: str | None  # the libstdc++6 release that provides the highest GLIBCXX_3.4.N


def elf_files(bundle_dir: Path) -> list[Path]:
    return sorted(p for p in bundle_dir.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))


def parse_objdump(text: str) -> tuple[list[str], set[str]]:
    """(DT_NEEDED sonames, symbol versions such as "GLIBC_2.34") from `objdump -p` output."""
    needed = re.findall(r"^\s+NEEDED\s+(\S+)", text, flags=re.MULTILINE)
    versions = set(re.findall(r"\b((?:GLIBC|GLIBCXX)_[0-9.]+)\b", text))
    return needed, versions


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def split_objdump(text: str) -> dict[str, str]:
    """`objdump -p FILE...` output split per file ("FILE:     file format ..." starts each part)."""
    parts: dict[str, str] = {}
    matches = list(re.finditer(r"^(\S.*?):\s+file format \S+$", text, flags=re.MULTILINE))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        parts[match.group(1)] = text[match.end() : end]
    return parts


def system_needs(bundle_dir: Path, objdump: str = "objdump") -> SystemNeeds:
    files = elf_files(bundle_dir)
    carried = {p.name for p in bundle_dir.rglob("*") if p.is_file() or p.is_symlink()}
    libraries: dict[str, set[str]] = {}
    glibc: list[str] = []
    glibcxx: list[str] = []
    outputs: dict[str, str] = {}
    for start in range(0, len(files), 200):  # one objdump per 200 files, not one per file
        batch = [str(path) for path in files[start : start + 200]]
        text = subprocess.run([objdump, "-p", *batch], check=True, capture_output=True, text=True).stdout
        outputs.update(split_objdump(text))
    for path in files:
        needed, versions = parse_objdump(outputs.get(str(path), ""))
        for soname in needed:
            if soname not in carried:
                libraries.setdefault(soname, set()).add(path.relative_to(bundle_dir).as_posix())
        for version in versions:
            name, _, number = version.partition("_")
            (glibc if name == "GLIBC" else glibcxx).append(number)
    glibc_floor = max(glibc, key=_version_key) if glibc else None
    glibcxx_floor = None
    if glibcxx:
        highest = max(glibcxx, key=_version_key)
        minor = _version_key(highest)[-1] if highest.startswith("3.4") else 0
        known = [release for level, release in GLIBCXX_GCC_RELEASE.items() if level <= minor]
        glibcxx_floor = known[-1] if known else None
    return SystemNeeds(libraries, glibc_floor, glibcxx_floor)


def library_path(soname: str, ldconfig_output: str) -> str | None:
    """Where the dynamic loader finds `soname` for x86-64/the native ABI (from `ldconfig -p`)."""
    for line in ldconfig_output.splitlines():
        line = line.strip()
        if line.startswith(f"{soname} ") and "=>" in line:
            return line.split("=>", 1)[1].strip()
    return None


def path_aliases(path: str) -> list[str]:
    """The names dpkg may know a library by on a merged-/usr system (/lib/x vs /usr/lib/x, resolved links)."""
    candidates = [path, os.path.realpath(path)]
    for candidate in list(candidates):
        candidates.append(candidate[4:] if candidate.startswith("/usr/") else "/usr" + candidate)
    return list(dict.fromkeys(candidates))


def owning_packages(paths: Iterable[str]) -> dict[str, str | None]:
    """The Debian package that installed each path (one dpkg-query call for all of them and their aliases)."""
    aliases = {path: path_aliases(path) for path in paths}
    every = sorted({alias for names in aliases.values() for alias in names})
    found: dict[str, str] = {}
    if every:
        # Exit status 1 when some alias is unknown (expected): the known ones are still listed.
        output = subprocess.run(["dpkg-query", "-S", *every], capture_output=True, text=True).stdout
        for line in output.splitlines():
            packages, sep, path = line.partition(": ")
            if sep and "," not in packages:  # "diversion by ..." and multi-owner lines are skipped
                found[path.strip()] = packages.split(":", 1)[0].strip()
    return {path: next((found[a] for a in names if a in found), None) for path, names in aliases.items()}


def undeclared_needs(owners: Mapping[str, str | None], declared: Iterable[str] = SYSTEM_DEPENDS) -> list[str]:
    """Problems: a needed library with no known package, or whose package Depends does not list."""
    declared_set = set(declared)
    problems = []
    for soname, package in sorted(owners.items()):
        if package is None:
            problems.append(f"{soname}: not found on the build machine or not from a Debian package")
        elif package not in declared_set:
            problems.append(f"{soname}: from {package}, which Depends does not list")
    return problems
