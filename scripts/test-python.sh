#!/usr/bin/env bash
# The Python binding's tests, on the packages a user installs, against the real engine of the
# test bed. Works on a fresh Debian machine with Rust, gcc and python3: maturin, zig (the PyPI
# package ziglang), auditwheel, pytest and mypy come from PyPI into venvs under target/python/.
#
#   1. the wheel: built with maturin and zig for glibc 2.17 (manylinux2014, abi3: cp39-abi3),
#      checked with `auditwheel show`, installed into a fresh venv; bindings/python/tests run
#      with pytest against the INSTALLED wheel, and examples/run_container.py against it;
#   2. the sdist (`maturin sdist`) installed with `pip install <sdist>` into a fresh venv: pip
#      compiles the crate (build isolation as a user gets it: pip fetches maturin from PyPI);
#      examples/run_container.py against it;
#   3. `pip install ./bindings/python` from the checkout into a fresh venv; the example again.
#
#   scripts/test-python.sh [pytest args...]     # e.g. -k logs, -x
#   GOFER_PYTHON_SOURCE_BUILDS=0 scripts/test-python.sh   # the wheel only (skips 2 and 3)
#
# The tools venv and the cargo target directories are kept between runs; the test venvs are
# made anew. A failure of pytest lets 2 and 3 run (the script fails at the end); any other
# failure stops the script.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/target/python
PYTHON=${PYTHON:-python3}
SOURCE_BUILDS=${GOFER_PYTHON_SOURCE_BUILDS:-1}
STARTED=$SECONDS
TIMES=()

log() { echo "test-python: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
# step NAME: closes the previous step's clock, opens NAME's; `step` alone closes the last one.
STEP_NAME="" STEP_START=$SECONDS
step() {
  [[ -z $STEP_NAME ]] || TIMES+=("$(printf '%-44s %4d s' "$STEP_NAME" $((SECONDS - STEP_START)))")
  STEP_NAME=${1:-} STEP_START=$SECONDS
  [[ -z $STEP_NAME ]] || log "== $STEP_NAME"
}
summary() {
  step
  log "time of each step:"
  local line
  for line in "${TIMES[@]}"; do log "  $line"; done
  log "run time: $((SECONDS - STARTED)) s"
}
trap summary EXIT

step "test bed up"
"$ROOT/scripts/testbed.sh" up
IMAGE=$(sed -n 's/^GOFER_TEST_IMAGE=//p' "$ROOT/target/testbed/env")
[[ -n $IMAGE ]] || die "no GOFER_TEST_IMAGE in target/testbed/env"

# Debian's python3 makes venvs only with python3-venv (ensurepip); a fresh machine may lack both.
if ! { command -v "$PYTHON" >/dev/null 2>&1 && "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; }; then
  . "$ROOT/scripts/lib.sh"
  gofer_apt_install python3 python3-venv python3-dev
fi

# The build tools in a venv of their own, kept between runs (they never see the package under
# test); reinstalled when this list changes. ziglang: tested with 0.17.1 (zig's releases break
# cross builds now and then: move it on purpose).
TOOLS=$OUT/tools
TOOL_REQS=('maturin>=1.9,<2' 'ziglang==0.17.1' 'auditwheel>=6,<7')
if [[ $(cat "$TOOLS/.requirements" 2>/dev/null) != "${TOOL_REQS[*]}" || ! -x $TOOLS/bin/maturin || ! -x $TOOLS/bin/auditwheel ]]; then
  step "tools venv (maturin, ziglang, auditwheel)"
  [[ -x $TOOLS/bin/pip ]] || timeout 300 "$PYTHON" -m venv "$TOOLS"
  timeout 900 "$TOOLS/bin/pip" install -q --disable-pip-version-check "${TOOL_REQS[@]}"
  echo "${TOOL_REQS[*]}" >"$TOOLS/.requirements"
fi

# A fresh venv at $1, then `pip install $2...` in it.
fresh_venv() {
  local venv=$1
  shift
  rm -rf "$venv"
  timeout 300 "$PYTHON" -m venv "$venv"
  timeout 1800 "$venv/bin/pip" install --disable-pip-version-check "$@"
}

# Runs examples/run_container.py, copied out of the checkout as a user copies it, with the
# python of venv $1 (the installed package, label $2): the default job (image from
# GOFER_TEST_IMAGE) must stream its lines as they come and end `state: EXITED, exit code: 0`
# with status 0; a job given on the command line (image as argv[1]) exiting 3 must make the
# program exit 3. The containers are removed afterwards.
check_example() {
  local venv=$1 label=$2 dir=$OUT/example where rc id expected
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$ROOT/examples/run_container.py" "$dir/"
  where=$(cd "$dir" && "$venv/bin/python" -c 'import gofer_scheduler; print(gofer_scheduler.__file__)')
  [[ $where == "$venv"/lib/python3*/site-packages/gofer_scheduler/__init__.py ]] ||
    die "$label: gofer_scheduler imported from $where, not from $venv"

  # Each stdout line stamped with its arrival time: the job prints "step 1..3" 0.3 s apart, so
  # lines that come only when the container has exited arrive within a few ms of each other.
  rc=0
  (cd "$dir" && GOFER_TEST_IMAGE=$IMAGE timeout 120 "$venv/bin/python" run_container.py 2>"$dir/stderr" |
    while IFS= read -r line; do printf '%s %s\n' "${EPOCHREALTIME/,/.}" "$line"; done >"$dir/stdout") || rc=$?
  id=$(sed -n 's/^started container \(gofer-example-py-[0-9]*\) (.*)$/\1/p' "$dir/stderr")
  [[ -z $id ]] || timeout 60 docker rm -f "$id" >/dev/null 2>&1 || true
  cat "$dir/stderr" >&2
  cut -d' ' -f2- "$dir/stdout"
  [[ $rc == 0 ]] || die "$label: run_container.py exited $rc"
  grep -qx "started container gofer-example-py-[0-9]* ($IMAGE)" "$dir/stderr" ||
    die "$label: no 'started container ... ($IMAGE)' line on stderr"
  expected=$(printf '%s\n' "hello from $id" "step 1" "step 2" "step 3" "a warning" "state: EXITED, exit code: 0")
  [[ $(cut -d' ' -f2- "$dir/stdout") == "$expected" ]] || die "$label: run_container.py printed something else than expected"
  awk '$2 == "step" && $3 == 1 { first = $1 } $2 == "state:" { last = $1 }
       END { exit !(first > 0 && last - first >= 0.5) }' "$dir/stdout" ||
    die "$label: the log lines did not come as the container wrote them (all at its exit?)"

  rc=0
  (cd "$dir" && timeout 120 "$venv/bin/python" run_container.py "$IMAGE" sh -c 'echo out; exit 3' \
    >"$dir/stdout" 2>"$dir/stderr") || rc=$?
  id=$(sed -n 's/^started container \(gofer-example-py-[0-9]*\) (.*)$/\1/p' "$dir/stderr")
  [[ -z $id ]] || timeout 60 docker rm -f "$id" >/dev/null 2>&1 || true
  [[ $rc == 3 && $(cat "$dir/stdout") == $'out\nstate: EXITED, exit code: 3' ]] ||
    die "$label: run_container.py IMAGE sh -c 'echo out; exit 3' exited $rc, printed: $(cat "$dir/stdout" "$dir/stderr")"
  log "$label: examples/run_container.py ok (streams, exit code 0, exit code 3)"
}

# ---- 1. the manylinux2014 wheel ----------------------------------------------------------------
# zig links against glibc 2.17's symbols whatever this machine's glibc; ring's C and assembly
# are compiled by zig's cc too (the cc crate, through maturin's wrapper). A target directory of
# its own: no lock shared with other cargo builds of the checkout. zig's and maturin's caches
# (XDG_CACHE_HOME) live under target/python too.
step "wheel: maturin build --zig (manylinux2014)"
rm -rf "$OUT/wheels"
(cd "$ROOT" && CARGO_TARGET_DIR=$OUT/cargo-wheel XDG_CACHE_HOME=$OUT/cache PATH=$TOOLS/bin:$PATH \
  timeout 1800 "$TOOLS/bin/maturin" build --release --zig --compatibility manylinux2014 \
  -m bindings/python/Cargo.toml --out "$OUT/wheels")
WHEELS=("$OUT"/wheels/gofer_scheduler-*.whl)
[[ ${#WHEELS[@]} -eq 1 && -f ${WHEELS[0]} ]] || die "expected one wheel, got: ${WHEELS[*]}"
WHEEL=${WHEELS[0]}
[[ $(basename "$WHEEL") == gofer_scheduler-*-cp39-abi3-*manylinux_2_17_x86_64*.whl ]] ||
  die "the wheel is not tagged cp39-abi3 manylinux_2_17_x86_64: $(basename "$WHEEL")"
log "wheel: $(basename "$WHEEL"), $(stat -c %s "$WHEEL") bytes ($(du -h "$WHEEL" | cut -f1))"

step "wheel: auditwheel show"
AUDIT=$(timeout 300 "$TOOLS/bin/auditwheel" show "$WHEEL") || die "auditwheel show failed: $AUDIT"
echo "$AUDIT" >&2
# auditwheel wraps its sentences: read them as one line. The tag it finds must be glibc 2.17's
# or an older one (manylinux1 = 2.5, manylinux2010 = 2.12, manylinux2014 = 2.17), on x86_64.
TAG=$(echo "$AUDIT" | tr -s '[:space:]' ' ' |
  sed -n 's/.*is consistent with the following platform tag: "\([^"]*\)".*/\1/p')
case $TAG in
  manylinux1_x86_64) GLIBC_MINOR=5 ;;
  manylinux2010_x86_64) GLIBC_MINOR=12 ;;
  manylinux2014_x86_64) GLIBC_MINOR=17 ;;
  manylinux_2_*_x86_64) GLIBC_MINOR=${TAG#manylinux_2_} GLIBC_MINOR=${GLIBC_MINOR%_x86_64} ;;
  *) GLIBC_MINOR="" ;;
esac
[[ $GLIBC_MINOR =~ ^[0-9]+$ ]] && ((GLIBC_MINOR <= 17)) ||
  die "auditwheel: the wheel is consistent with '${TAG:-no manylinux tag}', not with manylinux2014 (manylinux_2_17_x86_64)"
log "auditwheel: consistent with $TAG"

step "wheel: fresh venv, install"
VENV=$OUT/venv
fresh_venv "$VENV" -q "$WHEEL" 'pytest>=8,<10' 'pytest-timeout>=2,<3' 'mypy>=1.10,<2'

# Run from a directory where the source tree's package is not importable, so that every import
# of gofer_scheduler is the installed wheel's (a test checks this too).
cd "$OUT"
# -X importtime's line for the package itself: its cumulative time includes everything it
# imports (the native module, socket, enum...). Best of five: a busy machine only adds noise.
IMPORT_US=$(for _ in 1 2 3 4 5; do
  timeout 60 "$VENV/bin/python" -X importtime -c 'import gofer_scheduler' 2>&1 \
    | awk -F'|' '$3 ~ /^ *gofer_scheduler$/ { gsub(/ /, "", $2); print $2 }'
done | sort -n | head -1)
log "import time (python -X importtime -c 'import gofer_scheduler', best of 5): ${IMPORT_US} us"

step "wheel: pytest bindings/python/tests"
PYTEST_RC=0
timeout 1500 "$VENV/bin/python" -m pytest "$ROOT/bindings/python/tests" \
  -p no:cacheprovider --timeout=180 -ra "$@" || PYTEST_RC=$?

step "wheel: examples/run_container.py (+ mypy --strict)"
check_example "$VENV" "wheel"
# The example type-checks against the package's stubs as a user's program would.
(cd "$OUT/example" && timeout 300 "$VENV/bin/python" -m mypy --strict --cache-dir=/dev/null run_container.py >&2) ||
  die "mypy --strict examples/run_container.py"

if [[ $SOURCE_BUILDS == 1 ]]; then
  # ---- 2. and 3. built from source by pip ------------------------------------------------------
  # One target directory for both builds: the second reuses the dependencies the first compiled.
  # Cargo tells a fresh artifact by file times, and an sdist's files carry a fixed old date:
  # our two crates are removed before each build, so that each is compiled from the source
  # being installed (never taken from the other copy's build).
  export CARGO_TARGET_DIR=$OUT/cargo-source
  # pip_build_install VENV LABEL WHAT: `pip install WHAT` into a fresh VENV; the build's output
  # goes to target/python/pip-LABEL.log, which must show both crates compiled from the copy
  # being installed: the unpacked sdist for an sdist, the checkout for the checkout. pip's
  # cache is bypassed: it keeps the wheel it built from an sdist under the sdist's file name
  # and would install that stale wheel the next time.
  pip_build_install() {
    local venv=$1 label=$2 what=$3 build_log=$OUT/pip-$2.log compiled
    (cd "$ROOT" && timeout 300 cargo clean --quiet --release -p gofer-scheduler -p gofer-scheduler-python)
    fresh_venv "$venv" -v --no-cache-dir "$what" >"$build_log" 2>&1 ||
      { tail -n 60 "$build_log" >&2; die "$label: pip install $what (log: $build_log)"; }
    compiled=$(sed -n 's/^ *Compiling \(gofer-scheduler\(-python\)\{0,1\}\) v[^ ]* (\(.*\))$/\1 \3/p' "$build_log")
    log "$label: compiled: $(echo $compiled); cargo: $(grep -o 'Finished .*' "$build_log" | tail -n1)"
    if [[ $label == checkout ]]; then
      [[ $compiled == *"gofer-scheduler $ROOT"* && $compiled == *"gofer-scheduler-python $ROOT/bindings/python"* ]]
    else
      [[ $(grep -c . <<<"$compiled") == 2 && $compiled != *"$ROOT"* ]]
    fi || die "$label: the build did not compile both crates from the copy being installed (log: $build_log)"
  }

  step "sdist: maturin sdist"
  rm -rf "$OUT/sdist"
  (cd "$ROOT" && timeout 300 "$TOOLS/bin/maturin" sdist -m bindings/python/Cargo.toml --out "$OUT/sdist")
  SDISTS=("$OUT"/sdist/gofer_scheduler-*.tar.gz)
  [[ ${#SDISTS[@]} -eq 1 && -f ${SDISTS[0]} ]] || die "expected one sdist, got: ${SDISTS[*]}"
  SDIST=${SDISTS[0]}
  log "sdist: $(basename "$SDIST"), $(stat -c %s "$SDIST") bytes, $(tar tzf "$SDIST" | wc -l) files"

  step "sdist: pip install <sdist> (compiles)"
  pip_build_install "$OUT/venv-sdist" sdist "$SDIST"
  step "sdist: examples/run_container.py"
  check_example "$OUT/venv-sdist" "sdist"

  step "checkout: pip install ./bindings/python (compiles)"
  pip_build_install "$OUT/venv-checkout" checkout "$ROOT/bindings/python"
  step "checkout: examples/run_container.py"
  check_example "$OUT/venv-checkout" "checkout"
fi

[[ $PYTEST_RC == 0 ]] || die "pytest exited $PYTEST_RC"
log "all checks passed"
