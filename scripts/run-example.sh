#!/usr/bin/env bash
# The main job, end to end: bring up a Docker engine and the local test image, build the
# library, compile examples/run_container.c against it, run a container, stream its logs and
# print its final state. The example's container is removed afterwards.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/testbed.sh up
cargo build --release --lib --quiet
mkdir -p target/c
gcc -std=c11 -Wall -Wextra -Werror -Iinclude examples/run_container.c \
  target/release/libgofer_scheduler.a -lpthread -ldl -lm -o target/c/run_container
status=0
timeout 300 target/c/run_container "$@" || status=$?
for id in $(timeout 30 docker ps -aq --filter name=gofer-example-); do timeout 30 docker rm -f "$id" >/dev/null; done
exit $status
