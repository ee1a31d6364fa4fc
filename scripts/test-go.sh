#!/usr/bin/env bash
# Tests the Go binding (bindings/go) against the real engine:
#   go vet, go test -race, a GOGC=1 pass (flushes out a missing runtime.KeepAlive: a finalizer
#   that frees a handle while C still uses it crashes there), and a build through pkg-config.
#
#   scripts/test-go.sh
#
# Installs Go (Debian's golang-go) when there is none, builds the release library, and brings
# the test bed up (scripts/testbed.sh, idempotent). Every step is bounded in time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { echo "test-go: $*" >&2; }

. scripts/lib.sh
gofer_need_packages go=golang-go gcc=gcc pkg-config=pkg-config   # gcc: cgo

timeout 900 scripts/testbed.sh up
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
log "all Go checks passed"
