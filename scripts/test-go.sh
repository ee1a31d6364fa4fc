#!/usr/bin/env bash
# Tests the Go binding (bindings/go) against the real engine:
#   go vet, go test -race, a GOGC=1 pass (flushes out a missing runtime.KeepAlive: a finalizer
#   that frees a handle while C still uses it crashes there), and a build through pkg-config.
#
#   scripts/test-go.sh
#   GOFER_GO=go-1.24 scripts/test-go.sh      # with another Go: go-system (Debian 12's 1.19, the
#                                            # default), go-1.24, go-newest (scripts/dist.sh)
#
# Installs Go (Debian's golang-go) when there is none, builds the release library, and brings
# the test bed up (scripts/testbed.sh, idempotent). Every step is bounded in time. With a Go of
# 1.21 or later it also builds the examples/go module as users of that Go write modules: with a
# `toolchain` line, and in a go.work workspace with the binding (no `replace`).
# GOTOOLCHAIN=local: the go command never tries to download another toolchain (there is no
# network here, and a user's CI pins its Go).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { echo "test-go: $*" >&2; }

. scripts/lib.sh
gofer_need_packages go=golang-go gcc=gcc pkg-config=pkg-config   # gcc: cgo
GOFER_GO=${GOFER_GO:-go-system}
if [[ $GOFER_GO != go-system ]]; then
  PATH=$(scripts/dist.sh "$GOFER_GO" path):$PATH
  GOROOT=$(scripts/dist.sh "$GOFER_GO" goroot)
  export PATH GOROOT
fi
export GOTOOLCHAIN=local
log "$(go version)"

timeout 900 scripts/testbed.sh up
gofer_testbed_env
log "building the library"
timeout 1800 cargo build --release --lib

gofer_go_env "$ROOT"

cd bindings/go
log "go vet"
timeout 600 go vet ./...
log "go test -race"
timeout 900 go test -race -count=1 -timeout 10m ./...
log "GOGC=1 go test (subset)"
GOGC=1 timeout 600 go test -count=1 -timeout 5m \
  -run 'TestStartThenLogs|TestGoferStyleTaskRun|TestCloseWakes|TestConcurrentReads|TestAttachToSh|TestAttachSessionsLeak|TestUnknownID|TestInvalidArguments|TestDroppedObjects|Example' ./...

log "build of the example program"
timeout 600 go build -o "$ROOT/target/go-taskrun" ./examples/taskrun

# A module as Go 1.21 and later write them: a toolchain line, and a go.work instead of replace.
minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if ((minor >= 21)); then
  work=$(mktemp -d "${TMPDIR:-/tmp}/gofer-go-work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  cp -r "$ROOT/examples/go" "$work/app"
  cp -r "$ROOT/bindings/go" "$work/binding"
  (
    cd "$work/app"
    sed -i '/^replace /d' go.mod
    go mod edit -go=1.21 -toolchain="$(go env GOVERSION)"
    grep -q '^toolchain ' go.mod || { log "go mod edit wrote no toolchain line"; exit 1; }
    cd "$work"
    go work init ./app ./binding
    log "a module with a toolchain line, in a go.work with the binding: $(go env GOVERSION)"
    timeout 600 go build -o "$work/app-bin" ./app
    out=$(timeout 120 "$work/app-bin" "$GOFER_TEST_IMAGE" sh -c 'echo from the workspace; exit 5' 2>&1) && code=0 || code=$?
    [[ $code == 5 && $out == *"from the workspace"* ]] || { log "workspace build: exit $code: $out"; exit 1; }
  )
fi
log "all Go checks passed ($(go env GOVERSION))"
