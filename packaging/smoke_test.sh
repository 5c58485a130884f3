#!/usr/bin/env bash
# Smoke test of the built .deb on this machine: install, run the installed window and CLI, uninstall, check
# nothing is left. Needs root (or sudo) for dpkg. Prints a table of the steps' times at the end.
#
#   bash packaging/smoke_test.sh [path/to/scriptwright_<version>_<arch>.deb] [--screenshot out.png]
#
# Steps: install (dpkg -i, then apt-get install -f if Depends are missing) -> versions (both executables print
# pyproject's version) -> window offscreen (--smoke-test, 5 runs: exit 0, "first paint: N ms", median reported)
# -> window on X11 (under Xvfb, installed here if missing: the xcb plugin and its Depends) -> window on Wayland
# (under weston's headless backend, only where weston is installed) -> CLI --help/--version
# -> CLI generate --json against the test emulator (python3 -m tests.emulator from this checkout; groq, gemini
# and ollama) -> history shows the scripts -> remove and purge -> nothing left under /opt/scriptwright,
# /usr/bin, /usr/share/{applications,icons,doc}, and the user's data folder is untouched.
# The emulator, Xvfb and weston this script starts are stopped by their PIDs, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DEB=""
SCREENSHOT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --screenshot) SCREENSHOT="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) DEB="$1"; shift ;;
  esac
done

VERSION="$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
if [ -z "$DEB" ]; then
  DEB="$(ls -t dist/scriptwright_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1 || true)"
fi
[ -n "$DEB" ] && [ -f "$DEB" ] || { echo "no .deb found: run bash packaging/build.sh first" >&2; exit 2; }
DEB="$(realpath "$DEB")"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

WORK="$(mktemp -d /tmp/scriptwright-smoke.XXXXXX)"
DATA_DIR="$WORK/data"      # the "user's" data folder for every run here
mkdir -p "$DATA_DIR"
EMULATOR_PID=""
XVFB_PID=""
WESTON_PID=""
APP_PID=""

cleanup() {
  local pid
  for pid in "$APP_PID" "$EMULATOR_PID" "$XVFB_PID" "$WESTON_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

STEP_NAMES=()
STEP_TIMES=()
STEP_NOTES=()
step() {  # step NAME NOTE-VARIABLE-IS-SET-BY-THE-FUNCTION FUNCTION
  local name="$1" fn="$2" started ended
  echo "==> $name"
  NOTE=""
  started=$(date +%s.%N)
  "$fn"
  ended=$(date +%s.%N)
  STEP_NAMES+=("$name")
  STEP_TIMES+=("$(python3 -c "print(f'{$ended - $started:.2f}')")")
  STEP_NOTES+=("$NOTE")
}
fail() {
  echo "FAIL: $*" >&2
  if dpkg-query -W -f='${db:Status-Abbrev}' scriptwright 2>/dev/null | grep -q "^ii"; then
    echo "(scriptwright is left installed for a look; remove it with: dpkg -r scriptwright)" >&2
  fi
  exit 1
}

# dpkg waits for no lock: retry while another package operation holds it.
dpkg_retry() {
  local attempt output
  for attempt in $(seq 1 60); do
    if output=$($SUDO "$@" 2>&1); then echo "$output"; return 0; fi
    if grep -qi "lock" <<<"$output"; then sleep 2; continue; fi
    echo "$output"
    return 1
  done
  echo "$output"
  return 1
}

# Everything the installed app is run with: a scratch data folder, no real keychain, the offscreen platform
# unless a step says otherwise, and a working folder with no .env in it.
APP_ENV=(
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$WORK/home" LANG=C.UTF-8
  SCRIPTWRIGHT_DATA_DIR="$DATA_DIR" PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring
  XDG_RUNTIME_DIR="$WORK/runtime"
)
app_env() { "${APP_ENV[@]}" "$@"; }
mkdir -p "$WORK/home" "$WORK/runtime" && chmod 700 "$WORK/runtime"

do_install() {
  if ! dpkg_retry dpkg -i "$DEB" >"$WORK/dpkg-i.log"; then
    grep -q "dependency problems" "$WORK/dpkg-i.log" || { cat "$WORK/dpkg-i.log"; fail "dpkg -i"; }
    echo "    missing Depends: apt-get install -f"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive dpkg_retry apt-get install -f -y -qq --no-install-recommends >"$WORK/apt-f.log" \
      || { cat "$WORK/apt-f.log"; fail "apt-get install -f"; }
  fi
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' scriptwright)" = "ii " ] || fail "scriptwright is not installed"
  [ -x /opt/scriptwright/scriptwright ] && [ -x /opt/scriptwright/scriptwright-cli ] || fail "no executables"
  [ "$(readlink -f /usr/bin/scriptwright)" = /opt/scriptwright/scriptwright ] || fail "/usr/bin/scriptwright"
  [ "$(readlink -f /usr/bin/scriptwright-cli)" = /opt/scriptwright/scriptwright-cli ] || fail "/usr/bin/scriptwright-cli"
  NOTE="$(dpkg-query -W -f='${Version}, Installed-Size ${Installed-Size} KiB' scriptwright); du $(du -sh /opt/scriptwright | cut -f1)"
}

do_versions() {
  local gui cli
  gui="$(cd "$WORK" && app_env QT_QPA_PLATFORM=offscreen scriptwright --version)"
  cli="$(cd "$WORK" && app_env scriptwright-cli --version)"
  [ "$gui" = "Scriptwright $VERSION" ] || fail "scriptwright --version printed '$gui', expected 'Scriptwright $VERSION'"
  [ "$cli" = "scriptwright $VERSION" ] || fail "scriptwright-cli --version printed '$cli', expected 'scriptwright $VERSION'"
  NOTE="'$gui' / '$cli'"
}

run_window_smoke() {  # run_window_smoke LOG EXTRA-ENV...
  local log="$1"; shift
  local code=0
  (cd "$WORK" && app_env "$@" timeout 60 scriptwright --smoke-test) >"$log" 2>&1 || code=$?
  if [ "$code" -ne 0 ] || ! grep -q "^first paint: [0-9]* ms" "$log" || ! grep -q "^smoke test: ok" "$log"; then
    cat "$log"
    fail "scriptwright --smoke-test exited $code"
  fi
  grep -o "^first paint: [0-9]*" "$log" | grep -o "[0-9]*$"
}

do_window_offscreen() {
  local runs=() i
  local paint
  for i in 1 2 3 4 5; do
    paint="$(run_window_smoke "$WORK/smoke-$i.log" QT_QPA_PLATFORM=offscreen)" || exit 1
    runs+=("$paint")
  done
  local median
  median="$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p)"
  NOTE="first paint median ${median} ms (runs: ${runs[*]})"
  echo "    $NOTE"
}

start_xvfb() {
  if ! command -v Xvfb >/dev/null 2>&1; then
    echo "    installing xvfb"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive dpkg_retry apt-get install -y -qq --no-install-recommends xvfb >/dev/null
  fi
  local display
  for display in $(seq 90 120); do
    [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ] || break
  done
  DISPLAY_NUMBER=":$display"
  Xvfb "$DISPLAY_NUMBER" -screen 0 1600x900x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
  XVFB_PID=$!
  for _ in $(seq 1 50); do
    [ -e "/tmp/.X11-unix/X$display" ] && return 0
    sleep 0.1
  done
  cat "$WORK/xvfb.log"
  fail "Xvfb did not start"
}

do_window_x11() {
  start_xvfb
  local paint
  paint="$(run_window_smoke "$WORK/smoke-x11.log" QT_QPA_PLATFORM=xcb DISPLAY="$DISPLAY_NUMBER")" || exit 1
  NOTE="xcb under Xvfb: first paint ${paint} ms"
  echo "    $NOTE"
  if [ -n "$SCREENSHOT" ]; then
    command -v import >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive dpkg_retry apt-get install -y -qq \
      --no-install-recommends imagemagick >/dev/null
    # exec: the PID we keep is the app's own, so it is the app that we stop.
    (cd "$WORK" && exec "${APP_ENV[@]}" QT_QPA_PLATFORM=xcb DISPLAY="$DISPLAY_NUMBER" scriptwright) >"$WORK/shot.log" 2>&1 &
    APP_PID=$!
    sleep 4
    DISPLAY="$DISPLAY_NUMBER" import -window root "$SCREENSHOT"
    kill "$APP_PID" && wait "$APP_PID" 2>/dev/null || true
    APP_PID=""
    echo "    screenshot: $SCREENSHOT"
  fi
  kill "$XVFB_PID" && wait "$XVFB_PID" 2>/dev/null || true
  XVFB_PID=""
}

do_window_wayland() {
  # Only where weston is installed (apt-get install weston): its headless backend is a Wayland compositor
  # without a screen. Not installed by this script: it is large, and X11 is the path most desktops take.
  if ! command -v weston >/dev/null 2>&1; then
    NOTE="skipped: weston is not installed"
    echo "    $NOTE"
    return 0
  fi
  local runtime="$WORK/wayland-runtime" paint
  mkdir -p "$runtime" && chmod 700 "$runtime"
  XDG_RUNTIME_DIR="$runtime" weston --backend=headless-backend.so --socket=scriptwright-smoke --idle-time=0 \
    >"$WORK/weston.log" 2>&1 &
  WESTON_PID=$!
  for _ in $(seq 1 50); do
    [ -S "$runtime/scriptwright-smoke" ] && break
    sleep 0.1
  done
  [ -S "$runtime/scriptwright-smoke" ] || { cat "$WORK/weston.log"; fail "weston did not start"; }
  paint="$(run_window_smoke "$WORK/smoke-wayland.log" QT_QPA_PLATFORM=wayland XDG_RUNTIME_DIR="$runtime" \
    WAYLAND_DISPLAY=scriptwright-smoke)" || exit 1
  kill "$WESTON_PID" && wait "$WESTON_PID" 2>/dev/null || true
  WESTON_PID=""
  NOTE="wayland under weston (headless): first paint ${paint} ms"
  echo "    $NOTE"
}

do_cli_basics() {
  local help
  help="$(cd "$WORK" && app_env scriptwright-cli --help)"
  grep -q "usage: scriptwright-cli" <<<"$help" || fail "scriptwright-cli --help: $help"
  grep -q "generate" <<<"$help" || fail "scriptwright-cli --help lists no generate command"
  NOTE="--help and --version ok"
}

start_emulator() {
  python3 -u -m tests.emulator --port 0 >"$WORK/emulator.log" 2>&1 &  # a simple command: $! is its PID
  EMULATOR_PID=$!
  for _ in $(seq 1 100); do
    EMULATOR_URL="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/emulator.log" | head -1 || true)"
    [ -n "$EMULATOR_URL" ] && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$WORK/emulator.log"; fail "the emulator exited"; }
    sleep 0.1
  done
  [ -n "$EMULATOR_URL" ] || { cat "$WORK/emulator.log"; fail "the emulator printed no URL"; }
  GROQ_KEY="$(sed -n 's/.*Groq:.*api_key=\([^ ]*\).*/\1/p' "$WORK/emulator.log")"
  GEMINI_KEY="$(sed -n 's/.*Gemini:.*api_key=\([^ ]*\).*/\1/p' "$WORK/emulator.log")"
}

cli_generate() {  # cli_generate PROVIDER
  local provider="$1" output code=0
  output="$(cd "$WORK" && app_env GROQ_API_KEY="$GROQ_KEY" GROQ_BASE_URL="$EMULATOR_URL" \
    GEMINI_API_KEY="$GEMINI_KEY" GOOGLE_GEMINI_BASE_URL="$EMULATOR_URL" OLLAMA_HOST="$EMULATOR_URL" \
    GROQ_RATE_LIMIT_ENABLED=false GEMINI_RATE_LIMIT_ENABLED=false OLLAMA_RATE_LIMIT_ENABLED=false \
    timeout 60 scriptwright-cli generate --topic "Why espresso needs fresh beans" --provider "$provider" --words 80 \
    --json 2>"$WORK/cli-$provider.err")" || code=$?
  [ "$code" -eq 0 ] || { cat "$WORK/cli-$provider.err"; fail "scriptwright-cli generate --provider $provider exited $code"; }
  python3 - "$provider" "$output" <<'PY' || fail "scriptwright-cli generate --provider $provider printed bad JSON"
import json, sys
provider, text = sys.argv[1], sys.argv[2]
payload = json.loads(text)
assert payload["provider"] == provider, payload
assert isinstance(payload["text"], str) and len(payload["text"].split()) >= 10, payload
assert payload["model"] and isinstance(payload["script_id"], int), payload
assert payload["usage"] and payload["usage"]["completion_tokens"] > 0, payload
print(f"    {provider}: {len(payload['text'].split())} words, model {payload['model']}, {payload['latency_ms']:.0f} ms")
PY
}

do_cli_generate() {
  start_emulator
  cli_generate groq
  cli_generate gemini
  cli_generate ollama
  local history
  history="$(cd "$WORK" && app_env scriptwright-cli history --json)"
  python3 -c 'import json, sys; rows = json.loads(sys.argv[1]); assert len(rows) >= 3, rows' "$history" \
    || fail "history does not list the three scripts"
  kill "$EMULATOR_PID" && wait "$EMULATOR_PID" 2>/dev/null || true
  EMULATOR_PID=""
  NOTE="groq, gemini, ollama via the emulator at $EMULATOR_URL; history lists them"
}

do_remove() {
  dpkg_retry dpkg -r scriptwright >/dev/null || fail "dpkg -r"
  dpkg_retry dpkg --purge scriptwright >/dev/null || fail "dpkg --purge"
  local left=()
  [ -e /opt/scriptwright ] && left+=(/opt/scriptwright)
  local path
  for path in /usr/bin/scriptwright* /usr/share/applications/scriptwright* /usr/share/icons/hicolor/*/apps/scriptwright.* \
      /usr/share/doc/scriptwright; do
    [ -e "$path" ] || [ -L "$path" ] && left+=("$path")
  done
  [ "${#left[@]}" -eq 0 ] || fail "left after purge: ${left[*]}"
  dpkg-query -W -f='${db:Status-Abbrev}' scriptwright 2>/dev/null | grep -q "^ii" && fail "still installed"
  [ -f "$DATA_DIR/scriptwright.db" ] || fail "the user's data folder lost its database"
  NOTE="nothing left; the user's data folder kept ($(ls "$DATA_DIR" | tr '\n' ' '))"
}

echo "Smoke test of $DEB (pyproject version $VERSION)"
step install do_install
step versions do_versions
step window-offscreen do_window_offscreen
step window-x11 do_window_x11
step window-wayland do_window_wayland
step cli-basics do_cli_basics
step cli-generate do_cli_generate
step remove do_remove

echo
printf '%-17s %8s  %s\n' step seconds note
total=0
for i in "${!STEP_NAMES[@]}"; do
  printf '%-17s %8s  %s\n' "${STEP_NAMES[$i]}" "${STEP_TIMES[$i]}" "${STEP_NOTES[$i]}"
  total="$(python3 -c "print(f'{$total + ${STEP_TIMES[$i]}:.2f}')")"
done
printf '%-17s %8s\n' total "$total"
echo
echo "smoke test: ok"
