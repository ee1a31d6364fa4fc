#!/usr/bin/env bash
# GetState, start and logs (1 KiB lines) through every face on Docker 20.10 and on Docker 28.5,
# one after the other in one run, each as ratios to the raw client on the same engine (an
# engine's own speed is not ours to judge). Writes docs/benchmarks-engines.md.
#
#   scripts/bench-engines.sh            # full profile (~15 min on 2 cores)
#   scripts/bench-engines.sh --quick    # a smoke run, into target/bench/engines/ only
#
# Each engine is measured by scripts/bench.sh (benches/run.py: raw, Rust API, C ABI, Go binding,
# Python wheel; ops state, start, logs_1k): first the test bed's default engine (20.10), then
# Docker 28.5 as a private engine of scripts/netns-engine.sh (matrix), which it stops at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=$ROOT/target/bench/engines
log() { echo "bench-engines: $*" >&2; }

quick=()
[[ ${1:-} == --quick ]] && quick=(--quick)
common=(--clients raw,rust,c,go,python --ops state,start,logs_1k "${quick[@]}")
rm -rf "$OUT"; mkdir -p "$OUT"

log "Docker 20.10 (the default engine)"
timeout 3600 scripts/bench.sh "${common[@]}" --out "$OUT/docker-20.10"

trap 'timeout 300 scripts/netns-engine.sh matrix stop >/dev/null 2>&1 || true' EXIT
host=$(timeout 900 scripts/netns-engine.sh matrix start --load-image --version docker-28.5 | sed -n 's/^HOST=//p')
[[ -n $host ]] || { log "Docker 28.5 did not start"; exit 1; }
log "Docker 28.5 ($host)"
# A short wait for the load of the first run to settle.
DOCKER_HOST=$host BENCH_QUIET_WAIT=${BENCH_QUIET_WAIT:-300} timeout 3600 scripts/bench.sh "${common[@]}" --out "$OUT/docker-28.5"

report=$OUT/report.md
((${#quick[@]})) || report=$ROOT/docs/benchmarks-engines.md
target/bench/venv/bin/python benches/engines_report.py "$OUT/docker-20.10/benchmarks.json" "$OUT/docker-28.5/benchmarks.json" >"$report"
log "wrote $report"
