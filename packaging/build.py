"""Build the Linux installer: dist/scriptwright_<version>_<arch>.deb.

    python3 packaging/build.py    (or: bash packaging/build.sh, which first installs the system packages)

Steps, each timed:
  1. venv      packaging/.venv-build with the runtime dependencies + PyInstaller only; the app itself is
               pip-installed (not editable) so its metadata, i.e. its version, can be bundled
  2. version   pyproject's version == the installed package's metadata
  3. icons     PNG sizes, .ico and .icns rendered from resources/app-icon/scriptwright.svg (make_icons.py)
  4. bundle    PyInstaller one-folder bundle from packaging/scriptwright.spec (both executables)
  5. check     the frozen executables print that version; nothing forbidden is inside (tests, WebEngine, ...)
  6. audit     every library a bundled binary needs is bundled or comes from a package listed in Depends
  7. deb       the package tree, control file, md5sums; dpkg-deb --root-owner-group -Zzstd
  8. validate  desktop-file-validate on the .desktop entry (when desktop-file-utils is installed)

Other flags: --print-system-packages (what build.sh installs with apt), --fresh-venv, --skip-venv.
Needs Python >= 3.11 (tomllib), objdump (binutils), dpkg-deb. Works as root or not (no install happens here).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bundle_rules  # noqa: E402
import debian_package as deb  # noqa: E402

VENV = HERE / ".venv-build"
BUILD = ROOT / "build" / "packaging"
DIST = ROOT / "dist"
ICONS = BUILD / "icons"
BUNDLE = BUILD / "dist" / bundle_rules.APP_NAME
DEB_ROOT = BUILD / "deb-root"
SUMMARY_JSON = BUILD / "build-summary.json"

# What the build machine needs besides Python: PyInstaller's objdump, dpkg-deb (always there on Debian), the
# venv module, and every library the bundle needs (so the audit can resolve it, PyInstaller can analyse it).
BUILD_TOOLS = ("binutils", "python3-venv", "desktop-file-utils")
# Development-only packages that must never be in the build venv.
# (PySide6-Addons is a runtime dependency since the usage dashboard uses QtCharts.)
LEAK_CANARIES = ("pytest", "pytest-qt", "hypothesis", "coverage", "mypy", "ruff")


class BuildError(Exception):
    pass


class Timer:
    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    def run(self, name: str, action, *args, **kwargs):  # type: ignore[no-untyped-def]
        print(f"==> {name}", flush=True)
        started = time.perf_counter()
        result = action(*args, **kwargs)
        self.steps.append((name, time.perf_counter() - started))
        return result


def sh(*command: str | Path, capture: bool = False, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        check=False,
        text=True,
        capture_output=capture,
        env=env,
        cwd=ROOT,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip() if capture else ""
        raise BuildError(
            f"{' '.join(map(str, command))} failed ({result.returncode}){': ' + detail if detail else ''}"
        )
    return result.stdout if capture else ""


def venv_python() -> Path:
    return VENV / "bin" / "python"


# --- steps --------------------------------------------------------------------------------------------------


def make_venv(fresh: bool) -> None:
    if fresh and VENV.exists():
        shutil.rmtree(VENV)
    if venv_python().exists():
        probe = subprocess.run(
            [venv_python(), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True
        )
        if probe.returncode != 0:
            shutil.rmtree(VENV)
    if not venv_python().exists():
        sh(sys.executable, "-m", "venv", VENV)
        sh(venv_python(), "-m", "pip", "install", "-q", "--upgrade", "pip", capture=True)
    # `pip install .` always rebuilds and reinstalls a local project: the bundle gets this checkout's code and
    sh(venv_python(), "-m", "pip", "install", "-q", "-r", HERE / "requirements-build.txt", ".", capture=True)
    installed = json.loads(sh(venv_python(), "-m", "pip", "list", "--format=json", capture=True))
    names = {item["name"].lower() for item in installed}
    leaked = sorted(name for name in LEAK_CANARIES if name.lower() in names)
    if leaked:
        raise BuildError(
            f"the build venv holds development packages ({', '.join(leaked)}): rerun with --fresh-venv"
        )


def toolchain_versions() -> dict[str, str]:
    """What the bundle was built from (the index decides the versions unless PIP_CONSTRAINT pins them)."""
    script = (
        "import importlib.metadata as m, json, platform\n"
        "names = ('PySide6-Essentials', 'shiboken6', 'pyinstaller', 'groq', 'google-genai', 'ollama')\n"
        "print(json.dumps({'Python': platform.python_version(), **{n: m.version(n) for n in names}}))\n"
    )
    versions: dict[str, str] = json.loads(sh(venv_python(), "-c", script, capture=True))
    return versions


def check_version() -> str:
    version = deb.read_project_version(ROOT / "pyproject.toml")
    installed = sh(
        venv_python(), "-c", "import importlib.metadata as m; print(m.version('scriptwright'))", capture=True
    ).strip()
    if installed != version:
        raise BuildError(f"pyproject says {version} but the build venv has scriptwright {installed}")
    print(f"    version {version} (Debian: {deb.debian_version(version)})")
    print("    from " + ", ".join(f"{name} {value}" for name, value in toolchain_versions().items()))
    return version


def make_icons() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    if ICONS.exists():
        shutil.rmtree(ICONS)
    sh(venv_python(), HERE / "make_icons.py", ICONS, env=env)


def run_pyinstaller() -> None:
    if BUNDLE.exists():
        shutil.rmtree(BUNDLE)
    env = {**os.environ, "SCRIPTWRIGHT_ICON_DIR": str(ICONS)}
    env.pop("SCRIPTWRIGHT_BUNDLE_SYSTEM_LIBS", None)
    sh(
        VENV / "bin" / "pyinstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        BUILD / "dist",
        "--workpath",
        BUILD / "work",
        HERE / "scriptwright.spec",
        env=env,
    )


def forbidden_entries(bundle: Path) -> list[str]:
    """Things that must not be in the bundle: tests, test tools, unused Qt modules/plugins, translations."""
    problems = []
    internal = bundle / "_internal"
    for path in internal.rglob("*"):
        relative = path.relative_to(internal).as_posix()
        name = path.name
        if bundle_rules.FORBIDDEN_QT_LIBRARY.match(name):
            problems.append(f"unused Qt library: {relative}")
        elif relative.startswith(bundle_rules.QT_TRANSLATIONS_DIR.rstrip("/")):
            problems.append(f"Qt translations: {relative}")
        elif relative.startswith(bundle_rules.QT_PLUGIN_DIR) and path.is_file():
            if not bundle_rules.keep_qt_file(relative):
                problems.append(f"unused Qt plugin: {relative}")
        elif path.is_dir() and name in ("tests", "pytest", "_pytest", "hypothesis", "emulator"):
            problems.append(f"test code: {relative}")
    return problems


def frozen_modules(bundle: Path) -> set[str]:
    """Module names inside the executables' PYZ archives (via PyInstaller's archive reader)."""
    script = (
        "import sys, json\n"
        "from PyInstaller.archive.readers import CArchiveReader, ZlibArchiveReader\n"
        "names = set()\n"
        "for exe in sys.argv[1:]:\n"
        "    archive = CArchiveReader(exe)\n"
        "    for name, entry in archive.toc.items():\n"
        "        if entry[-1] == 'z':\n"
        "            data = archive.extract(name)\n"
        "            import tempfile, os\n"
        "            with tempfile.NamedTemporaryFile(delete=False) as handle: handle.write(data)\n"
        "            names.update(ZlibArchiveReader(handle.name).toc)\n"
        "            os.unlink(handle.name)\n"
        "print(json.dumps(sorted(names)))\n"
    )
    executables = [bundle / name for name in (bundle_rules.GUI_EXECUTABLE, bundle_rules.CLI_EXECUTABLE)]
    return set(json.loads(sh(venv_python(), "-c", script, *executables, capture=True)))


def check_bundle(version: str) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    gui = sh(BUNDLE / bundle_rules.GUI_EXECUTABLE, "--version", capture=True, env=env).strip()
    cli = sh(BUNDLE / bundle_rules.CLI_EXECUTABLE, "--version", capture=True, env=env).strip()
    for label, output in (("scriptwright", gui), ("scriptwright-cli", cli)):
        if not output.endswith(f" {version}"):
            raise BuildError(f"the frozen {label} --version printed {output!r}, not version {version}")
    print(f"    frozen --version: {gui!r} / {cli!r}")
    problems = forbidden_entries(BUNDLE)
    modules = frozen_modules(BUNDLE)
    problems += [
        f"excluded module frozen: {name}" for name in sorted(modules) if bundle_rules.is_excluded_module(name)
    ]
    problems += [
        f"unused Qt module frozen: {name}"
        for name in sorted(modules)
        if name.startswith("PySide6.Qt") and name.split(".")[1] not in bundle_rules.QT_MODULES_USED
    ]
    missing = [name for name in bundle_rules.PROVIDER_ADAPTERS if name not in modules]
    problems += [f"provider adapter not frozen: {name}" for name in missing]
    if problems:
        raise BuildError("the bundle holds what it must not:\n  " + "\n  ".join(problems))
    print(f"    {len(modules)} frozen modules; no tests, no unused Qt modules, plugins or translations")


def audit() -> deb.SystemNeeds:
    needs = deb.system_needs(BUNDLE)
    ldconfig = sh("/sbin/ldconfig", "-p", capture=True)
    paths = {soname: deb.library_path(soname, ldconfig) for soname in needs.libraries}
    by_path = deb.owning_packages(path for path in paths.values() if path)
    owners = {soname: by_path.get(path) if path else None for soname, path in paths.items()}
    problems = deb.undeclared_needs(owners)
    if problems:
        raise BuildError(
            "the bundle needs libraries that Depends does not cover:\n  " + "\n  ".join(problems)
        )
    packages = sorted({owner for owner in owners.values() if owner})
    unused = sorted(set(deb.SYSTEM_DEPENDS) - set(packages))
    print(f"    {len(needs.libraries)} system libraries from {len(packages)} packages, all in Depends")
    print(f"    glibc >= {needs.glibc_floor}, libstdc++6 >= {needs.glibcxx_floor}")
    if unused:
        print(f"    in Depends though no bundled binary links it directly: {', '.join(unused)}")
    return needs


def copyright_text() -> str:
    script = (
        "import importlib.metadata as m\n"
        "skip = {'pip', 'setuptools', 'pyinstaller', 'pyinstaller-hooks-contrib', 'altgraph', 'packaging'}\n"
        "rows = []\n"
        "for d in m.distributions():\n"
        "    name = d.metadata['Name']\n"
        "    if name.lower() in skip: continue\n"
        "    lic = d.metadata.get('License-Expression') or d.metadata.get('License') or ''\n"
        "    lic = lic.splitlines()[0][:60] if lic.strip() else ''\n"
        "    if not lic:\n"
        "        cls = [c.split('::')[-1].strip() for c in (d.metadata.get_all('Classifier') or [])\n"
        "               if c.startswith('License ::')]\n"
        "        lic = ', '.join(cls) or 'see the project'\n"
        "    rows.append(f'  {name} {d.version}: {lic}')\n"
        "print('\\n'.join(sorted(rows, key=str.lower)))\n"
    )
    components = sh(venv_python(), "-c", script, capture=True).rstrip()
    python_version = sh(
        venv_python(), "-c", "import platform; print(platform.python_version())", capture=True
    )
    return (
        "Scriptwright\n"
        "License: MIT\n\n"
        f"{deb.INSTALL_DIR} also holds, unmodified and dynamically linked:\n"
        f"  Python {python_version.strip()}: PSF-2.0\n"
        "  Qt 6 (libraries and plugins shipped with PySide6): LGPL-3.0-only\n"
        "  ICU (shipped with PySide6): Unicode-3.0\n"
        f"{components}\n"
    )


def build_deb(version: str, needs: deb.SystemNeeds) -> Path:
    architecture = sh("dpkg", "--print-architecture", capture=True).strip()
    deb.stage(root=DEB_ROOT, bundle_dir=BUNDLE, icons_dir=ICONS, copyright_text=copyright_text())
    size = deb.installed_size_kib(DEB_ROOT)
    control = deb.control_text(
        version=version,
        architecture=architecture,
        installed_size_kib=size,
        depends=deb.depends_field(needs.glibc_floor, needs.glibcxx_floor),
        maintainer=os.environ.get("SCRIPTWRIGHT_DEB_MAINTAINER", deb.DEFAULT_MAINTAINER),
    )
    deb.write_control(DEB_ROOT, control)
    DIST.mkdir(exist_ok=True)
    target = DIST / deb.deb_filename(version, architecture)
    target.unlink(missing_ok=True)
    sh("dpkg-deb", "--root-owner-group", "-Zzstd", "--build", DEB_ROOT, target)
    return target


def validate_desktop() -> str:
    validator = shutil.which("desktop-file-validate")
    desktop = DEB_ROOT / "usr" / "share" / "applications" / deb.DESKTOP_FILE
    if validator is None:
        print("    desktop-file-validate not installed: skipped (install desktop-file-utils)")
        return "skipped"
    output = sh(validator, desktop, capture=True).strip()
    if output:  # it prints warnings and hints even when it exits 0
        raise BuildError(f"desktop-file-validate: {output}")
    print("    desktop-file-validate: no errors, no warnings")
    return "ok"


# --- report -------------------------------------------------------------------------------------------------


def largest_items(bundle: Path, count: int = 10) -> list[tuple[str, int]]:
    """The biggest items: files and folders directly under _internal, each Qt library, Qt's plugins."""
    sizes: dict[str, int] = {}
    internal = bundle / "_internal"
    for path in bundle.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(bundle)
        parts = relative.parts
        if parts[0] != "_internal":
            key = parts[0]
        elif len(parts) > 4 and parts[1:4] == ("PySide6", "Qt", "lib"):
            key = "/".join(parts[1:5])
        elif len(parts) > 4 and parts[1:4] == ("PySide6", "Qt", "plugins"):
            key = "PySide6/Qt/plugins"
        elif len(parts) > 2 and parts[1] == "PySide6":
            key = "PySide6 (bindings)"
        else:
            key = parts[1]
        sizes[key] = sizes.get(key, 0) + path.stat().st_size
    del internal
    return sorted(sizes.items(), key=lambda item: -item[1])[:count]


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def report(timer: Timer, target: Path, desktop: str) -> None:
    deb_bytes = target.stat().st_size
    control = (DEB_ROOT / "DEBIAN" / "control").read_text()
    installed_kib = int(
        next(line for line in control.splitlines() if line.startswith("Installed-Size:")).split()[1]
    )
    bundle_bytes = tree_bytes(BUNDLE)
    print()
    print(f"{'step':<10} {'seconds':>8}")
    for name, seconds in timer.steps:
        print(f"{name:<10} {seconds:>8.1f}")
    total = sum(seconds for _, seconds in timer.steps)
    print(f"{'total':<10} {total:>8.1f}")
    print()
    print(f"package          {target.relative_to(ROOT)}")
    print(
        f".deb size        {mib(deb_bytes)} ({deb_bytes} bytes; target <= {mib(bundle_rules.MAX_DEB_BYTES)})"
    )
    print(
        f"Installed-Size   {installed_kib} KiB = {mib(installed_kib * 1024)} (target <= "
        f"{mib(bundle_rules.MAX_INSTALLED_BYTES)})"
    )
    print(f"bundle files     {mib(bundle_bytes)}")
    print(f"desktop entry    {desktop}")
    print()
    print("largest items in the bundle:")
    items = largest_items(BUNDLE)
    for name, size in items:
        print(f"  {mib(size):>10}  {name}")
    BUILD.mkdir(parents=True, exist_ok=True)
    SUMMARY_JSON.write_text(
        json.dumps(
            {
                "deb": str(target.relative_to(ROOT)),
                "deb_bytes": deb_bytes,
                "installed_size_kib": installed_kib,
                "bundle_bytes": bundle_bytes,
                "steps_seconds": {name: round(seconds, 1) for name, seconds in timer.steps},
                "total_seconds": round(total, 1),
                "largest": items,
                "toolchain": toolchain_versions(),
            },
            indent=2,
        )
        + "\n"
    )
    problems = []
    if deb_bytes > bundle_rules.MAX_DEB_BYTES:
        problems.append(f"the .deb is {mib(deb_bytes)}, over {mib(bundle_rules.MAX_DEB_BYTES)}")
    if installed_kib * 1024 > bundle_rules.MAX_INSTALLED_BYTES:
        problems.append(
            f"installed size is {mib(installed_kib * 1024)}, over {mib(bundle_rules.MAX_INSTALLED_BYTES)}"
        )
    if problems:
        raise BuildError("; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="packaging/build.py", description="Build dist/scriptwright_<v>_<arch>.deb."
    )
    parser.add_argument(
        "--print-system-packages", action="store_true", help="print the apt packages the build needs"
    )
    parser.add_argument("--fresh-venv", action="store_true", help="recreate packaging/.venv-build first")
    parser.add_argument("--skip-venv", action="store_true", help="use packaging/.venv-build as it is")
    args = parser.parse_args(argv)
    if args.print_system_packages:
        print(" ".join([*BUILD_TOOLS, *deb.SYSTEM_DEPENDS, deb.FONT_DEPENDS[0]]))
        return 0
    for tool in ("objdump", "dpkg-deb", "dpkg-query"):
        if shutil.which(tool) is None:
            print(
                f"missing {tool}: run bash packaging/build.sh (it installs what the build needs)",
                file=sys.stderr,
            )
            return 2
    timer = Timer()
    try:
        if not args.skip_venv:
            timer.run("venv", make_venv, args.fresh_venv)
        version = timer.run("version", check_version)
        timer.run("icons", make_icons)
        timer.run("bundle", run_pyinstaller)
        timer.run("check", check_bundle, version)
        needs = timer.run("audit", audit)
        target = timer.run("deb", build_deb, version, needs)
        desktop = timer.run("validate", validate_desktop)
        report(timer, target, desktop)
    except BuildError as error:
        print(f"\nbuild failed: {error}", file=sys.stderr)
        return 1
    print(f"\nbuilt {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
