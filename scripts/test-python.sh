#!/usr/bin/env bash
# The Python binding's tests: build the wheel with maturin (release), install it into a fresh
# virtualenv and run bindings/python/tests with pytest against the INSTALLED wheel, on the real
# engine of the test bed. Works on a fresh machine: maturin, pytest and mypy come from PyPI.
#
#   scripts/test-python.sh [pytest args...]     # e.g. -k logs, -x
#
# Everything lives under target/python/ (tools venv kept between runs, test venv made anew).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/target/python
PYTHON=${PYTHON:-python3}
STARTED=$SECONDS

log() { echo "test-python: $*" >&2; }
trap 'log "run time: $((SECONDS - STARTED)) s"' EXIT

"$ROOT/scripts/testbed.sh" up

# Debian's python3 makes venvs only with python3-venv (ensurepip); a fresh machine may lack both.
if ! { command -v "$PYTHON" >/dev/null 2>&1 && "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; }; then
  . "$ROOT/scripts/lib.sh"
  gofer_apt_install python3 python3-venv python3-dev
fi

# maturin in a venv of its own, kept between runs (it never sees the package under test).
TOOLS=$OUT/tools
if [[ ! -x $TOOLS/bin/maturin ]]; then
  log "installing maturin into $TOOLS"
  rm -rf "$TOOLS"
  timeout 300 "$PYTHON" -m venv "$TOOLS"
  timeout 600 "$TOOLS/bin/pip" install -q --disable-pip-version-check 'maturin>=1.9,<2'
fi

log "building the wheel"
rm -rf "$OUT/wheels"
(cd "$ROOT" && timeout 1800 "$TOOLS/bin/maturin" build --release \
  -m bindings/python/Cargo.toml --out "$OUT/wheels")
WHEELS=("$OUT"/wheels/gofer_scheduler-*.whl)
[[ ${#WHEELS[@]} -eq 1 && -f ${WHEELS[0]} ]] || { log "expected one wheel, got: ${WHEELS[*]}"; exit 1; }
WHEEL=${WHEELS[0]}

VENV=$OUT/venv
log "installing $(basename "$WHEEL") into a fresh $VENV"
rm -rf "$VENV"
timeout 300 "$PYTHON" -m venv "$VENV"
timeout 600 "$VENV/bin/pip" install -q --disable-pip-version-check \
  "$WHEEL" 'pytest>=8,<10' 'pytest-timeout>=2,<3' 'mypy>=1.10,<2'

# Run from a directory where the source tree's package is not importable, so that every import
# of gofer_scheduler is the installed wheel's (a test checks this too).
cd "$OUT"
log "wheel size: $(stat -c %s "$WHEEL") bytes ($(du -h "$WHEEL" | cut -f1))"
# -X importtime's line for the package itself: its cumulative time includes everything it
# imports (the native module, socket, enum...). Best of five: a busy machine only adds noise.
IMPORT_US=$(for _ in 1 2 3 4 5; do
  timeout 60 "$VENV/bin/python" -X importtime -c 'import gofer_scheduler' 2>&1 \
    | awk -F'|' '$3 ~ /^ *gofer_scheduler$/ { gsub(/ /, "", $2); print $2 }'
done | sort -n | head -1)
log "import time (python -X importtime -c 'import gofer_scheduler', best of 5): ${IMPORT_US} us"

timeout 1500 "$VENV/bin/python" -m pytest "$ROOT/bindings/python/tests" \
  -p no:cacheprovider --timeout=180 -ra "$@"
