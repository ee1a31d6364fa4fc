#!/usr/bin/env bash
# Builds the C tests and the example with -Wall -Wextra -Werror against the static library and
# runs the tests under valgrind: any memory error or definite leak fails them.
#
#   scripts/test-c.sh [TEST...]    # e.g. ffi_swarm (which needs scripts/swarm.sh's env)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh; gofer_testbed_env || exit 1

cargo build --release --lib --quiet
mkdir -p target/c
CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -Iinclude)
LIBS=(target/release/libgofer_scheduler.a -lpthread -ldl -lm)
for src in tests/c/*.c examples/run_container.c; do
  gcc "${CFLAGS[@]}" "$src" "${LIBS[@]}" -o "target/c/$(basename "$src" .c)"
done

status=0
# The tests named on the command line (scripts/test-swarm.sh runs ffi_swarm so), else these.
tests=("$@")
[[ ${#tests[@]} -gt 0 ]] || tests=(ffi_arguments ffi_engine ffi_task ffi_ready ffi_tls)
for t in "${tests[@]}"; do
  echo "== C test $t (valgrind)"
  # --child-silent-after-fork: the fork test's child abandons the parent's runtime by design.
  timeout 600 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --suppressions=tests/c/valgrind.supp \
    --child-silent-after-fork=yes \
    --show-leak-kinds=definite "target/c/$t" || status=1
done
exit $status
