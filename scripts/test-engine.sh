#!/usr/bin/env bash
# The engine suites against one engine version of the matrix (README "Tested"):
#
#   scripts/test-engine.sh ENGINE [SUITE...]
#     ENGINE: docker-20.10 (the test bed's default engine, Debian 12's), docker-26.1, docker-28.5,
#             docker-28.5-c8d (28.5 with the containerd image store)
#     SUITE:  rust c go python faults   (default: all of them)
#
# An engine other than docker-20.10 is a private dockerd of that version (scripts/netns-engine.sh
# matrix, fetched by scripts/dist.sh) in a network namespace of its own, holding the test bed's
# images (docker save | docker load); the test bed's registry store is served on the bridge
# (the engine cannot reach the host's 127.0.0.1:5000). The suites find both through the
# variables they already honour (DOCKER_HOST, GOFER_TEST_*), and every engine a test starts
# itself (TLS, plain TCP, the faults suite's private engine) is of the same version
# (GOFER_ENGINE_VERSION). The matrix engine is stopped at the end, also on failure.
#
#   rust    cargo test --release: every engine test (logs, wait, OOM, limits, mounts, attach,
#           images and pull progress, TLS, readiness...), not the swarm's nor the reliability
#           suite's (#[ignore]d)
#   c       scripts/test-c.sh: the C tests under valgrind (TLS included)
#   go      scripts/test-go.sh (GOFER_GO picks the Go: go-system, go-1.24, go-newest)
#   python  scripts/test-python.sh with the wheel only (the sdist and checkout builds do not
#           depend on the engine)
#   faults  tests/faults.rs: a private engine of this version killed, frozen, restarted
#
# Every suite runs even when an earlier one fails; the last line is
# "engine ENGINE: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
export CARGO_TERM_COLOR=never

ENGINE=${1:-}
shift || true
case $ENGINE in
  docker-20.10 | docker-26.1 | docker-28.5 | docker-28.5-c8d) ;;
  *) echo "usage: $0 docker-20.10|docker-26.1|docker-28.5|docker-28.5-c8d [rust c go python faults]" >&2; exit 2 ;;
esac
SUITES=("$@")
((${#SUITES[@]})) || SUITES=(rust c go python faults)
STARTED=$SECONDS
log() { echo "test-engine: $*" >&2; }

timeout 900 scripts/testbed.sh up >/dev/null || { log "the test bed could not be brought up"; exit 1; }
export GOFER_ENGINE_VERSION=$ENGINE
if [[ $ENGINE != docker-20.10 ]]; then
  trap 'timeout 300 scripts/netns-engine.sh matrix stop >/dev/null 2>&1 || true; timeout 120 scripts/private-dockerd.sh stop >/dev/null 2>&1 || true' EXIT
  out=$(timeout 900 scripts/netns-engine.sh matrix start --load-image --version "$ENGINE") || { log "engine $ENGINE could not be started"; exit 1; }
  host=$(sed -n 's/^HOST=//p' <<<"$out")
  netns=$(sed -n 's/^NETNS=//p' <<<"$out")
  registry=$(timeout 120 scripts/netns-engine.sh registry start | sed -n 's/^REGISTRY=//p')
  [[ -n $host && -n $registry ]] || { log "no engine address or registry"; exit 1; }
  gofer_testbed_env || exit 1
  # The CLI config of the test bed (fixtures push and pull through it) logs in there too.
  printf '%s' "$GOFER_TEST_REGISTRY_PASS" | timeout 60 docker -H "$host" login "$registry" -u "$GOFER_TEST_REGISTRY_USER" --password-stdin >/dev/null ||
    { log "cannot log in to $registry"; exit 1; }
  # The tests reach a published port through the engine's namespace (tests/common/mod.rs).
  export DOCKER_HOST=$host GOFER_TEST_ENGINE_NETNS=$netns GOFER_TEST_REGISTRY=$registry \
    GOFER_TEST_PRIVATE_IMAGE=$registry/gofer/private-busybox:latest \
    GOFER_TEST_MULTILAYER_IMAGE=$registry/gofer/multilayer:latest
  log "$ENGINE: $(timeout 30 docker version -f 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>&1); registry $registry"
fi

passed=0 failed=0 failures=()
step() {
  local name=$1 start=$SECONDS
  shift
  log "== $ENGINE: $name"
  if "$@"; then passed=$((passed + 1)); log "== $ENGINE: $name: ok ($((SECONDS - start)) s)"
  else failed=$((failed + 1)); failures+=("$name"); log "== $ENGINE: $name: FAILED ($((SECONDS - start)) s)"; fi
}

for s in "${SUITES[@]}"; do
  case $s in
    rust) step rust timeout 1800 cargo test --release --no-fail-fast -p gofer-scheduler ;;
    c) step c scripts/test-c.sh ;;
    go) step "go (${GOFER_GO:-go-system})" scripts/test-go.sh ;;
    python) step python env GOFER_PYTHON_SOURCE_BUILDS=0 scripts/test-python.sh ;;
    faults) step faults timeout 1200 cargo test --release --test faults -- --include-ignored ;;
    *) log "unknown suite $s"; failed=$((failed + 1)); failures+=("$s") ;;
  esac
done

((failed == 0)) || log "failed: ${failures[*]}"
log "run time: $((SECONDS - STARTED)) s"
echo "engine $ENGINE: $passed passed, $failed failed"
((failed == 0))
