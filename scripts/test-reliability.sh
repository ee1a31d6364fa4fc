#!/usr/bin/env bash
# The reliability and security suite (docs/reliability.md):
#   1. Rust: tests/faults.rs (a private dockerd killed, frozen, restarted: scripts/private-dockerd.sh),
#      tests/load.rs (threads, 200 streams, leak cycles), tests/hostile.rs (property tests over the
#      C entry points, sizes, handle misuse, secrets);
#   2. C: tests/c/ffi_load.c, N threads through the C ABI, natively and (quick profile) under
#      valgrind.
# These tests are #[ignore]d in a plain `cargo test` (they are slow, or load the shared daemon);
# this script runs them.
#
#   scripts/test-reliability.sh                            # quick profile (CI): a few minutes
#   GOFER_RELIABILITY_FULL=1 scripts/test-reliability.sh   # full profile: 64 threads x 60 s,
#                                                          # 5,000 leak cycles, 4,096 fuzz cases
#
# The measured figures are printed at the end (and kept in target/reliability/figures.txt). The
# last line is "reliability: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TERM_COLOR=never

full=0
case ${GOFER_RELIABILITY_FULL:-} in 1|true|yes) full=1 ;; esac
if ((full)); then
  profile=full; budget=5400; c_threads=64; c_seconds=60; c_starts=8
else
  profile=quick; budget=900; c_threads=16; c_seconds=10; c_starts=4
fi

scripts/testbed.sh up >/dev/null || { echo "test bed could not be brought up"; echo "reliability: 0 passed, 1 failed"; exit 1; }
. scripts/lib.sh; gofer_testbed_env || exit 1
mkdir -p target/reliability
rm -f target/reliability/figures.txt

passed=0; failed=0; failures=()
step() {
  local name=$1; shift
  echo; echo "===== $name ($profile)"
  local start=$SECONDS
  if "$@"; then passed=$((passed + 1)); echo "===== $name: ok ($((SECONDS - start)) s)"
  else failed=$((failed + 1)); failures+=("$name"); echo "===== $name: FAILED ($((SECONDS - start)) s)"; fi
}

started=$SECONDS
build() {
  timeout 1800 cargo test --release --no-run --test faults --test load --test hostile &&
    timeout 1800 cargo build --release --lib --quiet &&
    gcc -std=c11 -Wall -Wextra -Werror -g -Iinclude tests/c/ffi_load.c target/release/libgofer_scheduler.a \
      -lpthread -ldl -lm -o target/reliability/ffi_load
}
step "build" build
rust_suite() {
  timeout "$budget" cargo test --release --test "$1" -- --include-ignored
}
step "faults (private dockerd)" rust_suite faults
step "load" rust_suite load
step "hostile input" rust_suite hostile

c_load() {
  local out status
  out=$(GOFER_LOAD_THREADS=$c_threads GOFER_LOAD_SECONDS=$c_seconds GOFER_LOAD_STARTS=$c_starts timeout $((c_seconds + 300)) target/reliability/ffi_load)
  status=$?
  echo "$out"
  grep '^FIGURE ' <<<"$out" | sed "s/^FIGURE /[$profile] /" >>target/reliability/figures.txt
  return $status
}
c_load_valgrind() {
  # valgrind runs the threads one at a time: a small run, for memory errors and leaks.
  local out status
  out=$(GOFER_LOAD_THREADS=4 GOFER_LOAD_SECONDS=5 timeout 900 valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite target/reliability/ffi_load)
  status=$?
  echo "$out"
  grep '^FIGURE ' <<<"$out" | sed "s/^FIGURE ffi_load:/[$profile] ffi_load under valgrind:/" >>target/reliability/figures.txt
  return $status
}
step "C load (ffi_load)" c_load
((full)) || step "C load under valgrind" c_load_valgrind

# AddressSanitizer (with LeakSanitizer) over the hostile-input tests: needs a nightly toolchain,
# built in target/asan so the release build is left alone. Full profile, or GOFER_RELIABILITY_ASAN=1.
hostile_asan() {
  local bin
  CARGO_TARGET_DIR=target/asan RUSTFLAGS="-Zsanitizer=address" timeout 1800 \
    cargo +nightly test --target x86_64-unknown-linux-gnu --test hostile --no-run || return 1
  bin=$(ls -t target/asan/x86_64-unknown-linux-gnu/debug/deps/hostile-* | grep -v '\.d$' | head -1)
  GOFER_FIGURE_TAG="AddressSanitizer" GOFER_FUZZ_CASES=${GOFER_FUZZ_CASES:-256} timeout 1800 "$bin" \
    --include-ignored
}
if ((full)) || [[ ${GOFER_RELIABILITY_ASAN:-} == 1 ]]; then
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    step "hostile input under AddressSanitizer" hostile_asan
  else
    echo "(no nightly toolchain: the AddressSanitizer run is skipped)"
  fi
fi

# The private engine is stopped (its data stays, for a fast start next time).
scripts/private-dockerd.sh stop >/dev/null 2>&1 || true

echo
echo "===== figures ($profile profile, $((SECONDS - started)) s)"
cat target/reliability/figures.txt 2>/dev/null
echo
((failed == 0)) || echo "failed steps: ${failures[*]}"
echo "reliability: $passed passed, $failed failed"
((failed == 0))
