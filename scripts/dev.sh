#!/usr/bin/env bash
# One entry point for a fresh Debian/Ubuntu machine:
#   bash scripts/dev.sh run    installs what is missing, then starts the app
#   bash scripts/dev.sh test   installs what is missing (with the test extras), then runs the tests offscreen
set -euo pipefail
cd "$(dirname "$0")/.."

action="${1:-}"
case "$action" in
  run|test) ;;
  *) echo "usage: bash scripts/dev.sh run|test" >&2; exit 2 ;;
esac

# Qt's system libraries (offscreen and X11), fonts, and Python's venv module.
system_packages=(
  python3 python3-venv python3-pip
  libegl1 libgl1 libxkbcommon0 libfontconfig1 libfreetype6 libglib2.0-0 libdbus-1-3 libx11-6 libxcb1 fonts-dejavu-core
  libxcb-cursor0 libxkbcommon-x11-0 libx11-xcb1 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1 libxcb-glx0
)

install_system_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local missing=()
  for package in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  # A python3 that already has venv (e.g. a pyenv build) does not need Debian's python3 packages.
  if python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    local filtered=()
    for package in "${missing[@]}"; do
      case "$package" in python3|python3-venv|python3-pip) ;; *) filtered+=("$package") ;; esac
    done
    missing=("${filtered[@]}")
  fi
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_python_packages() {
  local extras="$1"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras}"
}

install_system_packages
if [ "$action" = "run" ]; then
  install_python_packages ""
  exec .venv/bin/scriptwright
fi
install_python_packages "[test]"
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest --cov=app --cov-report=term "${@:2}"
