#!/usr/bin/env bash
# Every test of gofer-scheduler, from a fresh clone on a fresh Debian machine (as root):
#   1. the test bed: Docker engine, local busybox image, private registry (scripts/testbed.sh);
#   2. the committed C header is what the build generates;
#   3. Rust unit and integration tests against the real engine;
#   4. C tests (-Wall -Wextra -Werror, under valgrind);
#   5. the Go binding (go vet, go test -race, a GOGC=1 pass);
#   6. the Python wheel (built with maturin, installed in a fresh venv, pytest);
#   6b. the install a user makes: the C library under a prefix, built against with pkg-config
#      only, and a Go module outside the checkout (scripts/test-install.sh);
#   6c. the engine suites against Podman's Docker API (scripts/test-podman.sh);
#   6d. the swarm engine on a swarm of three private dockerds, every face (scripts/test-swarm.sh:
#      brings the swarm up and down itself);
#   7. the reliability suite, quick profile (scripts/test-reliability.sh: daemon faults on a
#      private dockerd, load, leaks, hostile input, secrets; docs/reliability.md);
#   8. the benchmark's quick profile (scripts/bench.sh --quick: every client and operation once,
#      into target/bench/quick/): it fails on a failed call, never on a missed speed target;
#   9. the engine version matrix (scripts/test-engine.sh; README "Tested"): by default the Rust
#      and Python engine suites on Docker 28.5 (a private engine of Debian sid's, fetched by
#      scripts/dist.sh). GOFER_ENGINES=all runs the whole matrix: every engine suite (Rust, C,
#      Go, Python, faults) on Docker 26.1, 28.5 and 28.5 with the containerd image store, the
#      swarm suite on three 28.5 nodes and on a 28.5 manager with 20.10 workers, and the Go
#      suite with Go 1.24 and the newest Go Debian ships.
# Every suite runs even when an earlier one fails; the last line counts the suites.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TERM_COLOR=never

# The private engines the suites start in network namespaces (TLS, swarm) go when the run ends,
# also when it fails; the default engine and the registry stay for the next run.
trap 'scripts/swarm.sh down >/dev/null 2>&1; scripts/netns-engine.sh all down >/dev/null 2>&1 || true' EXIT
scripts/testbed.sh up || { echo "test bed could not be brought up"; echo "suites: 0 passed, 1 failed"; exit 1; }
. scripts/lib.sh; gofer_testbed_env || exit 1

passed=0; failed=0; failures=()
suite() {
  local name=$1; shift
  echo; echo "===== $name"
  local start=$SECONDS
  if "$@"; then passed=$((passed + 1)); echo "===== $name: ok ($((SECONDS - start)) s)"
  else failed=$((failed + 1)); failures+=("$name"); echo "===== $name: FAILED ($((SECONDS - start)) s)"; fi
}

header_is_generated() {
  cargo build --release --lib --quiet || return 1
  if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$ROOT" diff --exit-code -- include/ || { echo "include/gofer_scheduler.h differs from what cbindgen generates: commit it"; return 1; }
  fi
}

suite "C header up to date" header_is_generated
suite "Rust tests" timeout 1800 cargo test --release --no-fail-fast -p gofer-scheduler
suite "C tests" scripts/test-c.sh
[[ -x scripts/test-go.sh ]] && suite "Go binding" scripts/test-go.sh
[[ -x scripts/test-python.sh ]] && suite "Python wheel" scripts/test-python.sh
suite "Install (C prefix, Go outside the checkout)" scripts/test-install.sh
suite "Swarm (three nodes, every face)" scripts/test-swarm.sh
suite "Podman (the engine suites over its Docker API)" scripts/test-podman.sh
suite "Reliability (quick profile)" scripts/test-reliability.sh
suite "Benchmarks (quick smoke run)" timeout 1800 scripts/bench.sh --quick
if [[ ${GOFER_ENGINES:-} == all ]]; then
  for engine in docker-26.1 docker-28.5 docker-28.5-c8d; do
    suite "Engine $engine (Rust, C, Go, Python, faults)" scripts/test-engine.sh "$engine"
  done
  suite "Swarm on three Docker 28.5 nodes" env GOFER_ENGINE_VERSION=docker-28.5 scripts/test-swarm.sh
  suite "Swarm: a Docker 28.5 manager, 20.10 workers" \
    env GOFER_SWARM_MANAGER_VERSION=docker-28.5 GOFER_SWARM_WORKER_VERSION=docker-20.10 scripts/test-swarm.sh
  for go in go-1.24 go-newest; do
    suite "Go binding with $go" env GOFER_GO="$go" scripts/test-go.sh
  done
else
  suite "Engine docker-28.5 (Rust, Python)" scripts/test-engine.sh docker-28.5 rust python
fi

echo
((failed == 0)) || echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
((failed == 0))
