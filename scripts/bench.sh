#!/usr/bin/env bash
# Benchmarks: every operation through every client (raw HTTP/1.1 floor, Rust API, C ABI, Go
# binding, Python wheel; the peers bollard, Docker SDK for Go, docker-py; docker CLI) on one
# engine, interleaved round by round; then read sizes, scale (many streams and waits in one
# process) and GetState over TLS (private engines of scripts/netns-engine.sh, stopped again
# unless they were running). Writes docs/benchmarks.md, docs/benchmarks.json and
# docs/benchmarks-*.png.
#
#   scripts/bench.sh            # full profile (~30 min on 2 cores): waits first for a quiet machine
#   scripts/bench.sh --quick    # a few minutes (CI: keeps the suite working; not a measurement);
#                               # writes to target/bench/quick/ unless --out is given
#   scripts/bench.sh --quick --out /tmp/b --clients c,go --ops state,attach   # a subset
#
# Extra arguments go to benches/run.py (--out, --clients, --ops, --keep-fixtures). Op tasks (a
# task on the single host against the same on the three-node test swarm) brings the swarm up
# with scripts/swarm.sh and takes it down at the end, unless it was up already.
# Environment: BENCH_QUIET_WAIT (seconds to wait for load average < 1.0 before a full run;
# default 1200, 0 = do not wait), BENCH_BUILD_WHEEL=1 (build the Python wheel with maturin when
# scripts/test-python.sh has not).
#
# Everything it builds lives under target/bench/ (the bench crate has its own target dir there,
# the venv is target/bench/venv). Containers it makes are named gofer-bench-* and removed at the
# end, also on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/target/bench
PYTHON=${PYTHON:-python3}
STARTED=$SECONDS
cd "$ROOT"

log() { echo "bench: $*" >&2; }
# Whether a private engine of scripts/netns-engine.sh (TLS, plain TCP, swarm node) runs.
netns_engines_up() {
  local f
  for f in target/engines/*/dockerd.pid; do
    [[ -f $f && $(cat "/proc/$(cat "$f")/comm" 2>/dev/null) == dockerd ]] && return 0
  done
  return 1
}
NETNS_BEFORE=0
netns_engines_up && NETNS_BEFORE=1
OWN_SWARM=0
on_exit() {
  # The swarm of op tasks goes when this script brought it up, also on failure; the bridge and
  # firewall rule of the private engines (op tls, the swarm) when none ran before and none runs now.
  if ((OWN_SWARM)); then timeout 300 scripts/swarm.sh down >/dev/null 2>&1 || true; fi
  if ((!NETNS_BEFORE)) && ! netns_engines_up; then timeout 300 scripts/netns-engine.sh all down >/dev/null 2>&1 || true; fi
  log "run time: $((SECONDS - STARTED)) s"
}
trap on_exit EXIT

QUICK=0 WANT_SWARM=1 prev=""
for a in "$@"; do
  [[ $a == --quick ]] && QUICK=1
  # Op tasks (the Rust client on the single host and on the swarm) needs the test swarm; an
  # --ops without tasks or a --clients without rust does not.
  case $prev/$a in
    --ops/*) [[ ,$a, == *,tasks,* ]] || WANT_SWARM=0 ;;
    --clients/*) [[ ,$a, == *,rust,* ]] || WANT_SWARM=0 ;;
    */--ops=*) [[ ,${a#--ops=}, == *,tasks,* ]] || WANT_SWARM=0 ;;
    */--clients=*) [[ ,${a#--clients=}, == *,rust,* ]] || WANT_SWARM=0 ;;
  esac
  prev=$a
done

. scripts/lib.sh
gofer_need_packages go=golang-go gcc=gcc curl=curl ip=iproute2   # curl, ip: the private engines (op tls, the swarm)

timeout 900 scripts/testbed.sh up
mkdir -p "$OUT/bin"

log "building the library (release)"
timeout 1800 cargo build --release --lib
log "building the Rust clients (benches/rust)"
CARGO_TARGET_DIR=$OUT/cargo timeout 1800 cargo build --release --manifest-path benches/rust/Cargo.toml
log "building the C client"
timeout 300 gcc -O2 -g -Wall -Wextra -Werror -o "$OUT/bin/gofer-bench-c" benches/c/gofer_bench.c \
  -Iinclude target/release/libgofer_scheduler.a -lpthread -ldl -lm
log "building the Go client"
# The go command does not notice a rebuilt static library (see scripts/test-go.sh): a stamp of it
# in CGO_CFLAGS, part of go's cache keys, forces a relink exactly when it changes.
stamp=$(stat -c '%n %s %Y' target/release/libgofer_scheduler.a include/gofer_scheduler.h | sha256sum | cut -c1-16)
# The binding finds the library through pkg-config: the checkout's own build.
bindings/go/gen-pkgconfig.sh target/release >/dev/null
(cd benches/go && PKG_CONFIG_PATH=$ROOT/target/release CGO_ENABLED=1 CGO_CFLAGS="-O2 -g -DGOFER_LIB_STAMP=$stamp" \
  timeout 900 go build -o "$OUT/bin/gofer-bench-go" .)
# A peer: the Docker SDK for Go as Debian ships it (20.10.24), which builds in GOPATH mode only.
log "building the Docker SDK for Go's client (benches/go-sdk, a peer)"
if gofer_need_packages golang-github-docker-docker-dev; then
  # The helpers it shares with the Go binding's client, under their module path in our GOPATH.
  shared=$OUT/gopath/src/github.com/clintjedwards/gofer-scheduler/benches/go
  mkdir -p "$shared" && ln -sfn "$ROOT/benches/go/benchlib" "$shared/benchlib"
  (cd benches/go-sdk && GO111MODULE=off GOFLAGS= GOPATH=$OUT/gopath:/usr/share/gocode CGO_ENABLED=0 \
    timeout 900 go build -o "$OUT/bin/gofer-bench-go-sdk" .) || log "the Docker SDK client did not build: its rows are skipped"
else
  log "golang-github-docker-docker-dev did not install: the Docker SDK's rows are skipped"
fi

VENV=$OUT/venv
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import docker, matplotlib, numpy' 2>/dev/null; then
  log "making the bench venv ($VENV): docker-py, matplotlib"
  rm -rf "$VENV"
  timeout 300 "$PYTHON" -m venv "$VENV"
  timeout 900 "$VENV/bin/pip" install -q --disable-pip-version-check 'docker>=7,<8' 'matplotlib>=3.7,<4' numpy
fi

# The Python wheel: the one scripts/test-python.sh built (target/python/wheels), installed when
# it changed. Optionally built here with maturin (BENCH_BUILD_WHEEL=1).
WHEELS=$ROOT/target/python/wheels
if [[ ${BENCH_BUILD_WHEEL:-0} == 1 ]] && ! compgen -G "$WHEELS/gofer_scheduler-*.whl" >/dev/null; then
  TOOLS=$OUT/maturin
  [[ -x $TOOLS/bin/maturin ]] || { timeout 300 "$PYTHON" -m venv "$TOOLS" &&
    timeout 600 "$TOOLS/bin/pip" install -q --disable-pip-version-check 'maturin>=1.9,<2'; }
  WHEELS=$OUT/wheels
  rm -rf "$WHEELS"
  timeout 1800 "$TOOLS/bin/maturin" build --release -m bindings/python/Cargo.toml --out "$WHEELS"
fi
wheel=$(ls -t "$WHEELS"/gofer_scheduler-*.whl 2>/dev/null | head -n1 || true)
if [[ -n $wheel ]]; then
  sum=$(sha256sum "$wheel" | cut -c1-16)
  if [[ $(cat "$VENV/.wheel" 2>/dev/null) != "$sum" ]]; then
    log "installing $(basename "$wheel")"
    timeout 300 "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
    echo "$sum" >"$VENV/.wheel"
  fi
elif "$VENV/bin/python" -c 'import gofer_scheduler' 2>/dev/null; then
  log "no wheel in $WHEELS; using the one installed earlier in the bench venv"
else
  log "no Python wheel (run scripts/test-python.sh, or BENCH_BUILD_WHEEL=1): the Python rows are skipped"
fi

# The test swarm of op tasks: used as it is when its manager answers (an env file alone may be
# left from a swarm whose engines are gone), else brought up here and taken down at the end.
swarm_active() {
  local manager
  manager=$(sed -n 's/^GOFER_SWARM_MANAGER=//p' target/engines/swarm.env 2>/dev/null) && [[ -n $manager ]] &&
    [[ $(timeout 15 docker -H "$manager" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null) == active ]]
}
if ((WANT_SWARM)) && ! swarm_active; then
  log "bringing the test swarm up (op tasks; taken down at the end)"
  OWN_SWARM=1
  t=$SECONDS
  if timeout 600 scripts/swarm.sh up >&2; then
    log "the swarm is up ($((SECONDS - t)) s)"
  else
    log "the swarm did not come up: op tasks measures the single host only"
    timeout 300 scripts/swarm.sh down >/dev/null 2>&1 || true
  fi
fi

QUIET_NOTE=""
if [[ $QUICK == 0 ]]; then
  wait_s=${BENCH_QUIET_WAIT:-1200}
  deadline=$((SECONDS + wait_s))
  load=$(cut -d' ' -f1 /proc/loadavg)
  waited=$SECONDS
  while awk -v l="$load" 'BEGIN { exit !(l >= 1.0) }' && ((SECONDS < deadline)); do
    log "waiting for a quiet machine (load average $load, want < 1.0; up to $((deadline - SECONDS)) s more)"
    sleep 30
    load=$(cut -d' ' -f1 /proc/loadavg)
  done
  if awk -v l="$load" 'BEGIN { exit !(l >= 1.0) }'; then
    QUIET_NOTE="the machine never became quiet (1-min load $load after waiting $((SECONDS - waited)) s): other work ran alongside"
  else
    QUIET_NOTE="1-min load $load when the run began (waited $((SECONDS - waited)) s for < 1.0)"
  fi
  log "$QUIET_NOTE"
fi

log "running benches/run.py $*"
"$VENV/bin/python" benches/run.py --python "$VENV/bin/python" --quiet-note "$QUIET_NOTE" "$@"
