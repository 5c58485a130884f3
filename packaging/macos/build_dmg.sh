#!/usr/bin/env bash
# Build the macOS disk image: dist/Scriptwright-<version>.dmg holding Scriptwright.app.
# NOT RUN HERE (the project's machines are Linux). Needs macOS 12+ with Python >= 3.11 (python.org or Homebrew)
# and the Xcode command line tools (hdiutil and codesign ship with macOS). Builds for the Mac's own architecture.
#   bash packaging/macos/build_dmg.sh
# The spec (packaging/scriptwright.spec) makes Scriptwright.app with PyInstaller's BUNDLE when run on darwin; both
# executables are in Scriptwright.app/Contents/MacOS (scriptwright, scriptwright-cli).
# Signing: PyInstaller signs ad hoc, which runs on the building Mac; to distribute, set CODESIGN_IDENTITY to a
# "Developer ID Application: ..." identity and notarize the dmg afterwards (xcrun notarytool submit --wait,
# then xcrun stapler staple).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "build_dmg.sh runs on macOS only" >&2; exit 2; }

PYTHON="${PYTHON:-python3}"
VERSION="$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
VENV=packaging/.venv-build
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# The runtime dependencies and PyInstaller only; the app itself non-editable, so its metadata (version) is bundled.
"$VENV/bin/python" -m pip install -q -r packaging/requirements-build.txt .

QT_QPA_PLATFORM=offscreen "$VENV/bin/python" packaging/make_icons.py build/packaging/icons
SCRIPTWRIGHT_ICON_DIR=build/packaging/icons "$VENV/bin/pyinstaller" --noconfirm \
  --distpath build/packaging/dist --workpath build/packaging/work packaging/scriptwright.spec

APP=build/packaging/dist/Scriptwright.app
printed="$("$APP/Contents/MacOS/scriptwright-cli" --version)"
[ "$printed" = "scriptwright $VERSION" ] || { echo "the bundle prints '$printed', expected 'scriptwright $VERSION'" >&2; exit 1; }
QT_QPA_PLATFORM=offscreen SCRIPTWRIGHT_DATA_DIR="$(mktemp -d)" "$APP/Contents/MacOS/scriptwright" --smoke-test

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp --sign "$CODESIGN_IDENTITY" "$APP"
fi

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"   # drag-to-install
mkdir -p dist
DMG="dist/Scriptwright-$VERSION.dmg"
rm -f "$DMG"
hdiutil create -volname "Scriptwright $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
echo "built $DMG"
