#!/usr/bin/env bash
# The swarm engine's tests on a real swarm of three nodes, every face: brings the test bed and
# the swarm up (scripts/swarm.sh), runs
#   1. Rust: tests/swarm.rs (behaviour) and tests/swarm_faults.rs (a worker lost, the manager
#      restarted);
#   2. C: tests/c/ffi_swarm.c under valgrind (scripts/test-c.sh ffi_swarm);
#   3. Go: go vet and go test -race of bindings/go/scheduler/swarm;
#   4. Python: bindings/python/tests/test_swarm.py against a wheel built from the checkout
#      (maturin, for this machine only; scripts/test-python.sh tests the published wheel);
# and takes the swarm down at the end, also when a step fails or the script is interrupted.
# Every step runs even when an earlier one fails; the last line counts them.
#
#   scripts/test-swarm.sh
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
STARTED=$SECONDS
log() { echo "test-swarm: $*" >&2; }

timeout 900 scripts/testbed.sh up >/dev/null || { log "the test bed could not be brought up"; exit 1; }
trap 'timeout 300 scripts/swarm.sh down >/dev/null 2>&1 || true; log "run time: $((SECONDS - STARTED)) s"' EXIT
timeout 600 scripts/swarm.sh up || { log "the swarm could not be brought up"; exit 1; }
set -a; . target/testbed/env; . target/engines/swarm.env; set +a
export GOFER_SWARM_REQUIRED=1   # the Go and Python tests fail, not skip, without the swarm

passed=0 failed=0 failures=()
step() {
  local name=$1 start=$SECONDS
  shift
  log "== $name"
  if "$@"; then passed=$((passed + 1)); log "== $name: ok ($((SECONDS - start)) s)"
  else failed=$((failed + 1)); failures+=("$name"); log "== $name: FAILED ($((SECONDS - start)) s)"; fi
}

go_tests() {
  gofer_need_packages go=golang-go gcc=gcc pkg-config=pkg-config
  gofer_go_env "$ROOT"
  (cd bindings/go && timeout 600 go vet ./scheduler/swarm/ && timeout 900 go test -race -count=1 -timeout 10m ./scheduler/swarm/)
}

python_tests() {
  local out=$ROOT/target/swarm-py tools=$ROOT/target/python/tools
  if [[ ! -x $tools/bin/maturin ]]; then
    timeout 300 python3 -m venv "$tools" && timeout 900 "$tools/bin/pip" install -q --disable-pip-version-check 'maturin>=1.9,<2' || return 1
  fi
  rm -rf "$out/wheels"
  PATH=$tools/bin:$PATH timeout 1800 "$tools/bin/maturin" build --release --quiet -m bindings/python/Cargo.toml --out "$out/wheels" || return 1
  if [[ ! -x $out/venv/bin/pytest ]]; then
    timeout 300 python3 -m venv "$out/venv" && timeout 900 "$out/venv/bin/pip" install -q --disable-pip-version-check 'pytest>=8,<10' 'pytest-timeout>=2,<3' || return 1
  fi
  timeout 300 "$out/venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$out"/wheels/gofer_scheduler-*.whl || return 1
  # From a directory where the checkout's package is not importable: the wheel's is tested.
  (cd "$out" && timeout 900 venv/bin/python -m pytest "$ROOT/bindings/python/tests/test_swarm.py" -p no:cacheprovider --timeout=180 -q)
}

step "Rust (tests/swarm.rs, tests/swarm_faults.rs)" timeout 1800 cargo test --release --test swarm --test swarm_faults -- --ignored
step "C (ffi_swarm, valgrind)" scripts/test-c.sh ffi_swarm
step "Go (scheduler/swarm)" go_tests
step "Python (test_swarm.py)" python_tests

((failed == 0)) || log "failed: ${failures[*]}"
log "steps: $passed passed, $failed failed"
((failed == 0))
