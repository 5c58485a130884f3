#!/usr/bin/env bash
# Build the Linux installer, dist/scriptwright_<version>_<arch>.deb, on a Debian/Ubuntu machine:
#   bash packaging/build.sh [build.py flags, e.g. --fresh-venv]
# Installs with apt what the build needs and is missing (binutils for PyInstaller, the venv module, the
# libraries the bundle links so the Depends audit can resolve them, desktop-file-utils to validate the entry),
# then runs packaging/build.py. Needs root or sudo only when something has to be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { $sudo apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

if ! command -v python3 >/dev/null 2>&1; then
  echo "Installing python3"
  apt_install python3 python3-venv
fi

read -r -a wanted <<<"$(python3 packaging/build.py --print-system-packages)"
missing=()
for package in "${wanted[@]}"; do
  # A python3 that already has venv and ensurepip (e.g. a pyenv build) does not need Debian's python3-venv.
  if [ "$package" = python3-venv ] && python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  apt_install "${missing[@]}"
fi

exec python3 packaging/build.py "$@"
